"""The lexical side: a Whoosh index that is also the article store.

Every article's fields are stored here, so the index can show, export and re-embed
articles without the source files. Ranking is BM25F over title, lead and body with
the field boosts of ``search.query``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from whoosh import highlight, index, scoring
from whoosh import query as wq
from whoosh.fields import DATETIME, ID, STORED, TEXT, Schema
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

from search.analysis import analyze, news_analyzer, split_hyphens
from search.articles import Article
from search.columns import ColumnCache, Columns
from search.dates import date_period, month_of
from search.errors import ArticleNotFound
from search.query import SEARCH_FIELDS, ParsedQuery, QueryParser

_MARK = highlight.HtmlFormatter(tagname="mark", between=" … ")
_MARK.template = "<%(tag)s>%(t)s</%(tag)s>"  # plain <mark>: styling belongs to the page


def build_schema() -> Schema:
    """The Whoosh schema: analysed text fields, exact-match facets, stored display fields."""
    analyzer = news_analyzer()
    # ``sortable`` fields keep a column per document, read by ``search.columns`` for
    # facets, date sorting and filtered semantic search without loading stored text.
    return Schema(
        id=ID(stored=True, unique=True, sortable=True),
        title=TEXT(analyzer=analyzer, stored=True, multitoken_query="and"),
        lead=TEXT(analyzer=analyzer, stored=True, multitoken_query="and"),
        body=TEXT(analyzer=analyzer, stored=True, multitoken_query="and"),
        # ``date`` answers queries (``date:2025-02``, ranges); ``date_text`` keeps the
        # precision the archive gave, for display.
        date=DATETIME(sortable=True),
        date_text=STORED(),
        month=ID(stored=True, sortable=True),
        source=ID(stored=True, sortable=True),
        url=STORED(),
        language=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
    )


def _document(article: Article) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": article.id,
        "title": article.title,
        "lead": article.lead,
        "body": article.body,
    }
    if (article.lead or article.body).startswith(article.title):
        # A title made from the first sentence would count that sentence twice
        # (measured: MRR@10 0.69 -> 0.82 on 10kGNAD); show it, but don't index it.
        doc["title"] = ""
        doc["_stored_title"] = article.title
    for name in ("source", "url", "language", "category"):
        value = getattr(article, name)
        if value is not None:
            doc[name] = value
    if article.date is not None:
        doc["date_text"] = article.date
        doc["date"] = date_period(article.date)[0]
        month = month_of(article.date)
        if month is not None:
            doc["month"] = month
    return doc


def article_from_stored(stored: dict[str, object]) -> Article:
    return Article(
        id=str(stored["id"]),
        title=str(stored.get("title") or ""),
        lead=str(stored.get("lead") or ""),
        body=str(stored.get("body") or ""),
        date=_optional(stored.get("date_text")),
        source=_optional(stored.get("source")),
        url=_optional(stored.get("url")),
        language=_optional(stored.get("language")),
        category=_optional(stored.get("category")),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class LexicalHits:
    """Ranked (article id, BM25F score) pairs and how many articles matched in all."""

    ranked: list[tuple[str, float]]
    total: int


class LexicalWriter:
    """Upserts and deletes inside one Whoosh commit."""

    def __init__(self, writer: IndexWriter, fresh: bool) -> None:
        self._writer = writer
        # In a fresh index no id can exist yet, so the cheaper add skips the lookup.
        self._put = writer.add_document if fresh else writer.update_document

    def upsert(self, article: Article) -> None:
        self._put(**_document(article))

    def delete(self, article_id: str) -> None:
        self._writer.delete_by_term("id", article_id)


class LexicalIndex:
    """A Whoosh index folder with a long-lived searcher per thread, refreshed after writes.

    One searcher per thread, because a Whoosh searcher is not thread-safe: its segment
    readers share file objects, and two threads seeking in one read each other's bytes
    (``UnpicklingError``, "Block tag error" under concurrent queries).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index = index.open_dir(str(folder))
        self.parser = QueryParser(self._index.schema)
        self._local = threading.local()
        self._columns = ColumnCache()

    @classmethod
    def create(cls, folder: Path) -> LexicalIndex:
        folder.mkdir(parents=True, exist_ok=True)
        index.create_in(str(folder), build_schema())
        return cls(folder)

    def close(self) -> None:
        """Close this thread's searcher (other threads' go with the garbage collector)."""
        searcher: Searcher | None = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            del self._local.searcher

    def _current(self) -> Searcher:
        searcher: Searcher | None = getattr(self._local, "searcher", None)
        if searcher is None or not searcher.up_to_date():
            # A brand-new searcher, not ``refresh()``: refresh reuses segment readers
            # and misses deletions committed to an existing segment. The old searcher
            # is left to the garbage collector, since a generator may still hold it.
            searcher = self._local.searcher = self._index.searcher(weighting=scoring.BM25F())
        return searcher

    # -- writing -----------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, fresh: bool = False) -> Iterator[LexicalWriter]:
        """A writer that commits when the block ends and cancels if it raises."""
        writer = self._index.writer(limitmb=256)
        try:
            yield LexicalWriter(writer, fresh)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    # -- reading -----------------------------------------------------------------------

    def count(self) -> int:
        return self._current().doc_count()

    def get(self, article_id: str) -> Article:
        stored = self._current().document(id=article_id)
        if stored is None:
            raise ArticleNotFound(article_id)
        return article_from_stored(stored)

    def has(self, article_id: str) -> bool:
        return self._current().document_number(id=article_id) is not None

    def articles(self) -> Iterator[Article]:
        """Every stored article, in index order."""
        for stored in self._current().all_stored_fields():
            yield article_from_stored(stored)

    def ids(self) -> set[str]:
        return {str(stored["id"]) for stored in self._current().all_stored_fields()}

    def columns(self) -> Columns:
        """Per-document ids, dates and facet values of the current searcher."""
        return self._columns.get(self._current())

    def matching_ids(self, q: wq.Query) -> frozenset[str]:
        """The ids of every article ``q`` matches (a filter's allowed articles)."""
        searcher = self._current()
        return self._columns.get(searcher).ids_of(searcher.docs_for_query(q))

    def search(
        self, parsed: ParsedQuery, depth: int | None, filter: wq.Query | None = None
    ) -> LexicalHits:
        """Rank up to ``depth`` articles (None: all) that pass ``filter``; for keyword
        queries, those with every word first."""
        searcher = self._current()
        ids = self._columns.get(searcher).ids
        seen: set[int] = set()
        total = 0
        tiers: list[list[tuple[str, float]]] = []
        passes = [parsed.strict, parsed.loose] if parsed.is_keyword_query else [parsed.loose]
        for q in passes:
            results = searcher.search(q, limit=depth, filter=filter)
            total = max(total, len(results))
            tier = []
            for score, docnum in results.top_n:
                if docnum not in seen:
                    seen.add(docnum)
                    tier.append((ids[docnum], float(score)))
            tiers.append(tier)
        # Score fusion reads the scores, so they must agree with the order: every
        # all-words hit is lifted above the best partial one.
        ranked: list[tuple[str, float]] = []
        floor = 0.0
        for tier in reversed(tiers):
            lifted = [(article_id, score + floor) for article_id, score in tier]
            floor = max((score for _, score in lifted), default=floor)
            ranked = lifted + ranked
        return LexicalHits(ranked=ranked[:depth], total=total)

    def rare_terms(
        self, parsed: ParsedQuery, max_docs: float, sample: int
    ) -> list[tuple[str, list[str]]]:
        """Query terms found in at most ``max_docs`` articles, rarest first, with a sample
        of the articles that use each."""
        searcher = self._current()
        reader = searcher.reader()
        deleted = reader.doc_count_all() - reader.doc_count()
        found = []
        for text in sorted(self.query_terms(parsed)):
            # Term statistics settle most terms without a search: counting the matches
            # of a common word is what made this slow on a large archive. A field's
            # frequency still counts deleted articles, hence the margin.
            frequencies = [reader.doc_frequency(f, text) for f in SEARCH_FIELDS]
            if not any(frequencies) or max(frequencies) - deleted > max_docs:
                continue
            results = searcher.search(
                wq.Or([wq.Term(f, text) for f in SEARCH_FIELDS]), limit=sample
            )
            if 0 < len(results) <= max_docs:
                found.append((len(results), text, [hit["id"] for hit in results]))
        return [(text, ids) for _count, text, ids in sorted(found)]

    def doc_frequency(self, term: str) -> int:
        """How many articles use ``term`` in any searched field (an upper bound)."""
        reader = self._current().reader()
        return sum(reader.doc_frequency(field, term) for field in SEARCH_FIELDS)

    def terms_near(self, term: str, max_edits: int) -> list[tuple[str, int]]:
        """Index terms within ``max_edits`` of ``term``, with their document frequency."""
        reader = self._current().reader()
        # Typos rarely hit the first letter; keeping it fixed makes the automaton walk
        # a small part of the term dictionary.
        near = {
            t
            for field in SEARCH_FIELDS
            for t in reader.terms_within(field, term, max_edits, prefix=1)
        }
        return [(t, self.doc_frequency(t)) for t in sorted(near) if t != term]

    def surface_form(self, term: str) -> str | None:
        """The word as an article spells it, for an index term (a stem) it contains."""
        searcher = self._current()
        results = searcher.search(wq.Or([wq.Term(f, term) for f in SEARCH_FIELDS]), limit=1)
        if not results:
            return None
        stored = results[0]
        text = " ".join(str(stored.get(f) or "") for f in SEARCH_FIELDS)
        analyzer = self._index.schema["body"].analyzer
        for token in analyzer(text, chars=True, mode="query"):
            if token.text == term:
                word = text[token.startchar : token.endchar]
                # A hyphenated word's parts share its span; return the part itself.
                parts = [p for p in split_hyphens(word) if analyze(p) == [term]]
                return parts[0] if parts else word
        return None

    def query_terms(self, parsed: ParsedQuery) -> frozenset[str]:
        """The analysed terms a query looks for, for highlighting any text."""
        return frozenset(
            text for _field, text in parsed.loose.iter_all_terms() if isinstance(text, str)
        )

    def mentions(self, text: str, terms: frozenset[str]) -> bool:
        """Whether ``highlight`` would mark anything in ``text``, without marking it up."""
        if not terms:
            return False
        analyzer = self._index.schema["body"].analyzer
        return any(token.text in terms for token in analyzer(text, mode="index"))

    def highlight(self, text: str, terms: frozenset[str], whole: bool = False) -> str:
        """HTML-escaped ``text`` with query terms in ``<mark>``; '' when no term occurs.

        ``whole`` marks up all of ``text`` (a passage); otherwise the best two
        fragments around matches are returned.
        """
        if not terms:
            return ""
        fragmenter = (
            highlight.WholeFragmenter(charlimit=None)
            if whole
            else highlight.ContextFragmenter(maxchars=200, surround=60)
        )
        return highlight.highlight(
            text,
            terms,
            self._index.schema["body"].analyzer,
            fragmenter,
            _MARK,
            top=1 if whole else 2,
            mode="index",
        )
