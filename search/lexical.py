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

from search.analysis import news_analyzer
from search.articles import Article
from search.dates import date_period, month_of
from search.errors import ArticleNotFound
from search.query import SEARCH_FIELDS, ParsedQuery, QueryParser

_MARK = highlight.HtmlFormatter(tagname="mark", between=" … ")
_MARK.template = "<%(tag)s>%(t)s</%(tag)s>"  # plain <mark>: styling belongs to the page


def build_schema() -> Schema:
    """The Whoosh schema: analysed text fields, exact-match facets, stored display fields."""
    analyzer = news_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=analyzer, stored=True, multitoken_query="and"),
        lead=TEXT(analyzer=analyzer, stored=True, multitoken_query="and"),
        body=TEXT(analyzer=analyzer, stored=True, multitoken_query="and"),
        # ``date`` answers queries (``date:2025-02``, ranges); ``date_text`` keeps the
        # precision the archive gave, for display.
        date=DATETIME(),
        date_text=STORED(),
        month=ID(stored=True),
        source=ID(stored=True),
        url=STORED(),
        language=ID(stored=True),
        category=ID(stored=True),
    )


def _document(article: Article) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": article.id,
        "title": article.title,
        "lead": article.lead,
        "body": article.body,
    }
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
    """A Whoosh index folder with one long-lived searcher that refreshes after writes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index = index.open_dir(str(folder))
        self.parser = QueryParser(self._index.schema)
        self._lock = threading.Lock()
        self._searcher: Searcher = self._index.searcher(weighting=scoring.BM25F())

    @classmethod
    def create(cls, folder: Path) -> LexicalIndex:
        folder.mkdir(parents=True, exist_ok=True)
        index.create_in(str(folder), build_schema())
        return cls(folder)

    def close(self) -> None:
        self._searcher.close()

    def _current(self) -> Searcher:
        with self._lock:
            if not self._searcher.up_to_date():
                # A brand-new searcher, not ``refresh()``: refresh reuses segment readers
                # and misses deletions committed to an existing segment. The old searcher
                # is left to the garbage collector, since a concurrent query may hold it.
                self._searcher = self._index.searcher(weighting=scoring.BM25F())
            return self._searcher

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

    def search(self, parsed: ParsedQuery, depth: int) -> LexicalHits:
        """Rank up to ``depth`` articles; for keyword queries, those with every word first."""
        searcher = self._current()
        ranked: list[tuple[str, float]] = []
        seen: set[str] = set()
        total = 0
        passes = [parsed.strict, parsed.loose] if parsed.is_keyword_query else [parsed.loose]
        for q in passes:
            results = searcher.search(q, limit=depth)
            total = max(total, len(results))
            for hit in results:
                article_id = hit["id"]
                if article_id not in seen and len(ranked) < depth:
                    seen.add(article_id)
                    ranked.append((article_id, float(hit.score)))
        return LexicalHits(ranked=ranked, total=total)

    def rare_terms(
        self, parsed: ParsedQuery, max_docs: float, sample: int
    ) -> list[tuple[str, list[str]]]:
        """Query terms found in at most ``max_docs`` articles, rarest first, with a sample
        of the articles that use each."""
        searcher = self._current()
        found = []
        for text in sorted(self.query_terms(parsed)):
            results = searcher.search(
                wq.Or([wq.Term(f, text) for f in SEARCH_FIELDS]), limit=sample
            )
            if 0 < len(results) <= max_docs:
                found.append((len(results), text, [hit["id"] for hit in results]))
        return [(text, ids) for _count, text, ids in sorted(found)]

    def query_terms(self, parsed: ParsedQuery) -> frozenset[str]:
        """The analysed terms a query looks for, for highlighting any text."""
        return frozenset(
            text for _field, text in parsed.loose.iter_all_terms() if isinstance(text, str)
        )

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
