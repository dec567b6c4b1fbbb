"""The lexical side: a Whoosh index that is also the article store.

Every article's fields are stored here (``search.lexical.schema``), so the index can
show, export and re-embed articles without the source files. Ranking is BM25F over
title, lead and body, scored by ``search.lexical.bm25`` over whole posting lists.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from whoosh import index, scoring
from whoosh import query as wq
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import Searcher

from search import budget as budgets
from search.budget import Budget
from search.errors import ArticleNotFound
from search.ingest.article import Article
from search.ingest.passages import PassageSettings, passage_source
from search.lexical.analysis import (
    ANALYSED_LANGUAGES,
    COMPOUNDS,
    TOKEN_PATTERN,
    analysis_language,
    analyze,
    fold,
    split_hyphens,
)
from search.lexical.bm25 import ArchiveReader, PostingCache, Scored, score_query, segments_of
from search.lexical.columns import ColumnCache, Columns
from search.lexical.expansion import bounded
from search.lexical.nearby import LexiconCache
from search.lexical.parse import (
    FIELDS_OF_LANGUAGE,
    SEARCH_FIELDS,
    TEXT_FIELDS,
    ParsedQuery,
    QueryParser,
    language_field,
)
from search.lexical.schema import (
    LexicalWriter,
    article_from_stored,
    build_schema,
    in_any_field,
)
from search.lexical.tiers import LexicalHits, merge, top

_LANGUAGE_OF_FIELD = {f: language for language, fs in FIELDS_OF_LANGUAGE.items() for f in fs}
# The analyzer's tokenizer pattern: the words it analyses one by one.
_WORD = re.compile(TOKEN_PATTERN)
WORD_CACHE = 50_000
# Articles whose folded passages grounding keeps (about 3 KB each).
FOLDED_ARTICLES = 4_096
# Articles whose passages as hits show them, with their terms, are kept (about 20 KB each).
SHOWN_ARTICLES = 2_048
# Whoosh's collector gets at least this long, even when slow earlier steps (a cold
# cache) spent the search's budget: an answer cut short beats none.
MIN_COLLECT_SECONDS = 0.2
# Whoosh's indexing buffer per writer; a rebuild has one writer per shard open, and
# each buffers only its shard's share of the articles.
WRITER_MB = 128


def _rarest(item: tuple[str, tuple[int, list[str]]]) -> tuple[int, str]:
    text, (count, _ids) = item
    return count, text


class ShownPassage(NamedTuple):
    """A passage as a hit shows it, and the terms its words were indexed under."""

    text: str
    terms: frozenset[str]


def _without_title(text: str, title: str) -> str:
    """``text`` without the title it opens with (once or, body after title, twice)."""
    while title and text.startswith(title) and len(text) > len(title):
        text = text[len(title) :].lstrip(" .:;-\u2013\u2014\n")
    return text


class LexicalIndex:
    """Whoosh index folders (one per shard) read as one archive, with a long-lived
    searcher per thread.

    Several folders are read through one ``ArchiveReader`` (a Whoosh ``MultiReader``)
    over all their segments, so document frequencies, field lengths and the document
    count are the whole archive's (Elasticsearch's DFS phase, for free): a sharded
    index ranks exactly as an unsharded one. Documents are numbered shard after shard.

    One searcher per thread, because a Whoosh searcher is not thread-safe: its segment
    readers share file objects, and two threads seeking in one read each other's bytes
    (``UnpicklingError``, "Block tag error" under concurrent queries).
    """

    def __init__(self, folders: Path | Sequence[Path], published: bool = False) -> None:
        self.folders = [folders] if isinstance(folders, Path) else list(folders)
        # A published generation's folders never change (writes go through one
        # shard's own ``LexicalIndex``), so its searchers are never checked for newer
        # commits: Whoosh lists the folder for that, dozens of times per query.
        self._published = published or len(self.folders) > 1
        # Without mmap: Whoosh copies every memory-mapped file it opens into a
        # BytesIO, so each thread's searcher held a private copy of the segment
        # (0.5 GB at 100k articles) on top of the mapped pages it touched.
        self._indexes = [
            FileStorage(str(folder), supports_mmap=False).open_index() for folder in self.folders
        ]
        self._index = self._indexes[0]
        schema = self._index.schema  # read from disk on every access: once here
        self.parser = QueryParser(schema)
        self._analyzers = {
            language: schema[language_field("body", language)].analyzer
            for language in ANALYSED_LANGUAGES
        }
        self._local = threading.local()
        self._columns = ColumnCache()
        self._postings = PostingCache()
        self._lexicon = LexiconCache(SEARCH_FIELDS)
        # The terms each word yields: the analyzer treats every word on its own (so
        # a text's terms are its words' terms), and news prose repeats its words.
        self._word_terms = lru_cache(maxsize=WORD_CACHE)(self._terms_of_word)
        self._frequencies = lru_cache(maxsize=WORD_CACHE)(self._frequency_in)
        self._folded = lru_cache(maxsize=FOLDED_ARTICLES)(self._fold_passages)
        self._shown = lru_cache(maxsize=SHOWN_ARTICLES)(self._show_passages)

    def shard_starts(self) -> np.ndarray:
        """The first document number of each folder, and the end of the last."""
        sizes = [ix.doc_count_all() for ix in self._indexes]
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @classmethod
    def create(cls, folder: Path, compounds: bool = COMPOUNDS) -> LexicalIndex:
        folder.mkdir(parents=True, exist_ok=True)
        index.create_in(str(folder), build_schema(compounds))
        return cls(folder)

    def close(self) -> None:
        """Close this thread's searcher (other threads' go with the garbage collector)."""
        searcher: Searcher | None = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            del self._local.searcher

    def _current(self) -> Searcher:
        searcher: Searcher | None = getattr(self._local, "searcher", None)
        if searcher is not None and (self._published or searcher.up_to_date()):
            return searcher
        # A brand-new searcher, not ``refresh()``: refresh reuses segment readers and
        # misses deletions committed to an existing segment. The old searcher is left
        # to the garbage collector, since a generator may still hold it.
        if len(self._indexes) > 1:
            leaves = [r for ix in self._indexes for r, _ in ix.reader().leaf_readers()]
            searcher = Searcher(ArchiveReader(leaves, self._postings), weighting=scoring.BM25F())
        else:
            searcher = self._index.searcher(weighting=scoring.BM25F())
        self._local.searcher = searcher
        return searcher

    # -- writing -----------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(
        self, fresh: bool = False, passages: PassageSettings | None = None
    ) -> Iterator[LexicalWriter]:
        """A writer that commits when the block ends and cancels if it raises.

        ``passages`` must be the generation's settings (its manifest's): the spans
        stored with each article are the ones its vectors were embedded from.
        """
        if len(self._indexes) > 1:
            raise ValueError("write to one shard's folder, not to the archive's reader")
        writer = self._index.writer(limitmb=WRITER_MB)
        try:
            yield LexicalWriter(writer, fresh, passages or PassageSettings())
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    # -- reading -----------------------------------------------------------------------

    def count(self) -> int:
        return self._current().doc_count()

    def get(self, article_id: str) -> Article:
        searcher = self._current()
        # The id column finds the document without a term search.
        docnum = self._columns.get(searcher).docnum_of.get(article_id)
        if docnum is None:
            raise ArticleNotFound(article_id)
        return article_from_stored(searcher.stored_fields(docnum))

    def passages(self, article_id: str) -> tuple[Article, list[str]]:
        """A stored article with the passage texts its vectors were embedded from."""
        searcher = self._current()
        docnum = self._columns.get(searcher).docnum_of.get(article_id)
        if docnum is None:
            raise ArticleNotFound(article_id)
        stored = searcher.stored_fields(docnum)
        article = article_from_stored(stored)
        text = passage_source(article)
        offsets = list(stored.get("passages") or ())
        return article, [text[offsets[i] : offsets[i + 1]] for i in range(0, len(offsets), 2)]

    def folded_passages(self, article_id: str) -> tuple[str, ...]:
        """An article's passages, folded (``analysis.fold``), for word-start matching.

        Remembered for the most recently asked articles: grounding reads the
        passages of the few articles that use a query's rare words, and those come
        back with every query naming the same thing.
        """
        return self._folded(article_id)

    def _fold_passages(self, article_id: str) -> tuple[str, ...]:
        return tuple(fold(text) for text in self.passages(article_id)[1])

    def shown_passages(self, article_id: str) -> tuple[Article, tuple[ShownPassage, ...]]:
        """A stored article with its passages as a hit shows them (without the title
        they open with), each with every term its words were indexed under.

        Remembered for the most recently shown articles: a passage's terms tell at
        once whether a query can mark anything in it, where finding out from the
        text means scanning all of it, for every hit of every query.
        """
        return self._shown(article_id)

    def _show_passages(self, article_id: str) -> tuple[Article, tuple[ShownPassage, ...]]:
        article, texts = self.passages(article_id)
        language = analysis_language(article.language)
        shown = []
        for text in texts:
            text = _without_title(text, article.title)
            terms = {
                t for word in set(_WORD.findall(text)) for t in self.indexed_terms(word, language)
            }
            shown.append(ShownPassage(text, frozenset(terms)))
        return article, tuple(shown)

    def has(self, article_id: str) -> bool:
        return article_id in self._columns.get(self._current()).docnum_of

    def articles(self) -> Iterator[Article]:
        """Every stored article, in index order."""
        for stored in self._current().all_stored_fields():
            yield article_from_stored(stored)

    def ids(self) -> set[str]:
        return {str(stored["id"]) for stored in self._current().all_stored_fields()}

    def columns(self) -> Columns:
        """Per-document ids, dates and facet values of the current searcher."""
        return self._columns.get(self._current())

    def allowed(self, constraints: Sequence[wq.Query]) -> np.ndarray | None:
        """Which documents meet every constraint, as a mask by document number (None:
        all do). A ``Not`` constraint removes what its query matches."""
        if not constraints:
            return None
        searcher = self._current()
        mask = self._columns.get(searcher).live.copy()
        for constraint in constraints:
            if isinstance(constraint, wq.Not):
                mask[self._docnums(searcher, constraint.query)] = False
            else:
                keep = np.zeros_like(mask)
                keep[self._docnums(searcher, constraint)] = True
                mask &= keep
        return mask

    def outside(self, allowed: np.ndarray | None) -> frozenset[str]:
        """The stored articles an ``allowed`` mask leaves out (the semantic side skips them)."""
        if allowed is None:
            return frozenset()
        columns = self._columns.get(self._current())
        return columns.ids_of(np.flatnonzero(columns.live & ~allowed).tolist())

    def matching_ids(self, q: wq.Query) -> frozenset[str]:
        """The ids of every article ``q`` matches (a filter's allowed articles)."""
        searcher = self._current()
        return self._columns.get(searcher).ids_of(self._docnums(searcher, q).tolist())

    def _best(self, searcher: Searcher, q: wq.Query, n: int) -> tuple[int, list[int]]:
        """How many documents match ``q``, and the best ``n`` in Whoosh's order."""
        scored = score_query(searcher, q, self._postings)
        if scored is None:
            results = searcher.search(q, limit=n)
            return len(results), [docnum for _score, docnum in results.top_n]
        matched, scores = scored
        return int(np.count_nonzero(matched)), top(matched, scores, n).tolist()

    def _docnums(self, searcher: Searcher, q: wq.Query) -> np.ndarray:
        """Document numbers of every match of ``q``, ascending (patterns within the
        running search's budget, as in ``search``)."""
        q = bounded(q, searcher.reader(), budgets.current())
        scored = score_query(searcher, q, self._postings)
        if scored is not None:
            return np.flatnonzero(scored[0])
        return np.fromiter(searcher.docs_for_query(q), dtype=np.int64)

    def search(
        self,
        parsed: ParsedQuery,
        depth: int | None,
        allowed: np.ndarray | None = None,
        first: int | None = None,
        budget: Budget | None = None,
        failed: list[int] | None = None,
    ) -> LexicalHits:
        """Rank the articles ``allowed`` (a mask by document number, see ``allowed``;
        None: all); for keyword queries, those with every word first.

        Segments without an allowed document are not read; a segment that cannot be
        read is left out and its first document number added to ``failed`` (when
        given: see ``score_query``).

        Each pass ranks ``depth`` articles (None: every match), which decides the
        tiers and their scores; of the merged ranking the first ``first`` are
        returned (None: all ranked). ``total`` counts every match either way.
        ``budget`` (default: the running search's, ``search.budget``) caps
        wildcard, prefix, fuzzy and range expansion and the time spent.
        """
        budget = budget or budgets.current()
        searcher = self._current()
        columns = self._columns.get(searcher)
        passes = [parsed.strict, parsed.loose] if parsed.is_keyword_query else [parsed.loose]
        passes = [bounded(q, searcher.reader(), budget) for q in passes]
        scored = [score_query(searcher, q, self._postings, allowed, failed) for q in passes]
        if any(s is None for s in scored):
            return self._search_whoosh(searcher, passes, depth, allowed, first, budget)
        return merge(scored, allowed, depth, first, columns.ids, columns.docnum_of)  # type: ignore[arg-type]

    def _search_whoosh(
        self,
        searcher: Searcher,
        passes: list[wq.Query],
        depth: int | None,
        allowed: np.ndarray | None,
        first: int | None,
        budget: Budget,
    ) -> LexicalHits:
        """``search`` by Whoosh's own collector, for queries ``score_query`` does not take.

        The collector stops when the budget's deadline passes, keeping what it found.
        """
        columns = self._columns.get(searcher)
        size = searcher.doc_count_all()
        ranked: list[Scored] = []
        total = 0
        # Whoosh takes a set of document numbers as a filter.
        filter = None if allowed is None else set(np.flatnonzero(allowed).tolist())
        for q in passes:
            collector = searcher.collector(limit=depth, filter=filter)
            if math.isfinite(budget.seconds):  # a timer thread per search only with a deadline
                collector = TimeLimitCollector(
                    collector, max(budget.remaining(), MIN_COLLECT_SECONDS), use_alarm=False
                )
            with contextlib.suppress(TimeLimit):
                searcher.search_with_collector(q, collector)
            if getattr(collector, "timedout", False):
                budget.timed_out = True
            results = collector.results()
            total = max(total, len(results))
            matched, scores = np.zeros(size, dtype=bool), np.zeros(size)
            for score, docnum in results.top_n:
                matched[docnum], scores[docnum] = True, score
            ranked.append((matched, scores))

        def everything() -> np.ndarray:
            found = self._docnums(searcher, passes[-1])
            return found if allowed is None else found[allowed[found]]

        return merge(
            ranked, None, depth, first, columns.ids, columns.docnum_of, (total, everything)
        )

    def word_terms(self, word: str, language: str) -> tuple[str, ...]:
        """The terms one query word yields in ``language``'s analysis."""
        return self._word_terms(word, "query", language)

    def indexed_terms(self, word: str, language: str) -> tuple[str, ...]:
        """The terms one word of an article was indexed under (what highlighting marks)."""
        return self._word_terms(word, "index", language)

    def coverage(self, parsed: ParsedQuery, article_id: str) -> float:
        """The share of a plain keyword query's words that one article holds.

        Fusion reads it off the lexical side's best match: how much of the query
        the lexical side found in one place. A query written with operators is
        taken as the user wrote it, so every match holds all of it (1.0).
        """
        if not parsed.is_keyword_query:
            return 1.0
        searcher = self._current()
        docnum = self._columns.get(searcher).docnum_of.get(article_id)
        if docnum is None:
            return 0.0
        strict = parsed.strict
        words = strict.subqueries if isinstance(strict, wq.And) else [strict]
        held = 0
        for word in words:
            # From the cached posting lists where the scorer takes the word's query.
            scored = score_query(searcher, word, self._postings)
            if scored is not None:
                held += bool(scored[0][docnum])
                continue
            matcher = word.matcher(searcher)
            if matcher.is_active():
                matcher.skip_to(docnum)
                held += matcher.is_active() and matcher.id() == docnum
        return held / len(words)

    def rare_terms(
        self, parsed: ParsedQuery, max_docs: float, sample: int
    ) -> list[tuple[str, list[str]]]:
        """Query terms found in at most ``max_docs`` articles, rarest first, with a sample
        of the articles that use each."""
        searcher = self._current()
        reader = searcher.reader()
        deleted = reader.doc_count_all() - reader.doc_count()
        ids = self._columns.get(searcher).ids
        found: dict[str, tuple[int, list[str]]] = {}
        for language, terms in sorted(self.terms_by_language(parsed).items()):
            fields = FIELDS_OF_LANGUAGE[language]
            for text in sorted(terms):
                # Term statistics settle most terms without a search: counting the
                # matches of a common word is what made this slow on a large archive.
                # A field's frequency still counts deleted articles, hence the margin.
                frequencies = [self.doc_frequency(text, (f,)) for f in fields]
                if not any(frequencies) or max(frequencies) - deleted > max_docs:
                    continue
                count, best = self._best(searcher, in_any_field(text, fields), sample)
                if 0 < count <= max_docs and count < found.get(text, (max_docs + 1,))[0]:
                    found[text] = (count, [ids[d] for d in best])
        return [(text, ids) for text, (_count, ids) in sorted(found.items(), key=_rarest)]

    def doc_frequency(self, term: str, fields: tuple[str, ...] = SEARCH_FIELDS) -> int:
        """How many articles use ``term`` in any of ``fields`` (an upper bound).

        Remembered: a generation never changes, and spelling, the known share and
        grounding ask for the same terms again and again.
        """
        return self._frequencies(term, fields)

    def _frequency_in(self, term: str, fields: tuple[str, ...]) -> int:
        segments = segments_of(self._current().reader())
        return sum(self._postings.archive_frequency(segments, field, term) for field in fields)

    def terms_near(
        self, term: str, max_edits: int, fields: tuple[str, ...] = SEARCH_FIELDS
    ) -> list[tuple[str, int]]:
        """Terms of ``fields`` within ``max_edits`` of ``term``, with their document
        frequency there."""
        # Typos rarely hit the first letter; keeping it fixed leaves a small part of
        # the term dictionary to compare with.
        lexicon = self._lexicon.get(self._current().reader())
        near = {t for field in fields for t in lexicon.near(field, term, max_edits)}
        return [(t, self.doc_frequency(t, fields)) for t in sorted(near) if t != term]

    def surface_form(self, term: str) -> str | None:
        """The word as an article spells it, for an index term (a stem) it contains."""
        searcher = self._current()
        _count, best = self._best(searcher, in_any_field(term), 1)
        if not best:
            return None
        stored = searcher.stored_fields(best[0])
        language = analysis_language(article_from_stored(stored).language)
        text = " ".join(str(stored.get(f) or "") for f in TEXT_FIELDS)
        for word in _WORD.findall(text):  # the first word whose terms hold ``term``
            if term in self._word_terms(word, "query", language):
                # A hyphenated word's terms come from its parts; return the part itself.
                parts = [p for p in split_hyphens(word) if analyze(p, language=language) == [term]]
                return parts[0] if parts else word
        return None

    def query_terms(self, parsed: ParsedQuery) -> frozenset[str]:
        """The analysed terms a query looks for in any language, for highlighting."""
        return frozenset(text for _field, text in parsed.sought_terms())

    def terms_by_language(self, parsed: ParsedQuery) -> dict[str, frozenset[str]]:
        """The terms a query looks for in each language's fields (its words so analysed)."""
        found: dict[str, set[str]] = {language: set() for language in FIELDS_OF_LANGUAGE}
        for field, text in parsed.sought_terms():
            language = _LANGUAGE_OF_FIELD.get(field)
            if language is not None:
                found[language].add(text)
        return {language: frozenset(terms) for language, terms in found.items()}

    def _terms_of_word(self, word: str, mode: str, language: str) -> tuple[str, ...]:
        return tuple(token.text for token in self._analyzers[language](word, mode=mode))
