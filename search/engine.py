"""The engine facade: one object that the CLI, the API and the tests all use.

An ``Engine`` is opened on an index folder. It follows the folder's live generation,
so a long-running server picks up a rebuild or another process's writes on its next
request without a restart. Every write builds a new generation and switches to it
(see ``search.storage.folder``), so what an engine reads never changes under it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.query import Query as WhooshQuery

from search.errors import ModelMismatch, QueryError
from search.ingest.articles import Article, ReadReport, expand_sources, read_articles
from search.ingest.indexing import Progress
from search.ingest.passages import PassageSettings
from search.lexical.index import LexicalIndex
from search.lexical.parse import (
    FIELDS_OF_LANGUAGE,
    ParsedQuery,
    check_query_text,
    is_keyword_text,
    plain_words,
)
from search.lexical.tiers import LexicalHits
from search.retrieval.facets import Facets, count_documents, count_facets
from search.retrieval.filters import Filters
from search.retrieval.fusion import DEFAULT_FUSION, FUSIONS, fuse, lexical_weight_for
from search.retrieval.hits import build_page, explained, stored_articles
from search.retrieval.paging import (
    Cursor,
    claimed_position,
    decode_cursor,
    encode_cursor,
    fingerprint,
    resume_position,
)
from search.retrieval.results import (
    MODES,
    SORTS,
    Mode,
    Ranked,
    Ranking,
    Scores,
    SearchResults,
    Sort,
)
from search.retrieval.spelling import correct_query
from search.semantic.embedders import Embedder, load_embedder, model_name
from search.semantic.grounding import ExpansionSettings, ground_query_vector
from search.semantic.ranking import SemanticSettings, rank_articles, rank_like
from search.semantic.vectors import SemanticHit
from search.storage.folder import IndexFolder
from search.storage.generations import BuildReport, Generation, build_generation, derive_generation
from search.storage.manifest import Manifest

MAX_LIMIT = 100
CANDIDATE_DEPTH = 100
_QUERY_SYNTAX = re.compile(r"\b[A-Za-z_]\w*:|[\"()*^~\[\]{}]|\b(?:AND|OR|NOT|TO)\b")


def semantic_text(query: str) -> str:
    """The query as prose for the embedder: query-language syntax says nothing about meaning."""
    return " ".join(_QUERY_SYNTAX.sub(" ", query).split()) or query


def _check_page(limit: int, offset: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise QueryError(f"offset must be a non-negative integer, not {offset!r}")


class Engine:
    """Search, similar articles and writes over one index folder."""

    def __init__(
        self,
        path: str | Path,
        model: str | None = None,
        embedder: Embedder | None = None,
        expansion: ExpansionSettings | None = None,
        semantic: SemanticSettings | None = None,
    ) -> None:
        self.folder = IndexFolder(path)
        self.expansion = expansion or ExpansionSettings()
        self.semantic = semantic or SemanticSettings()
        self._expected_model = embedder.name if embedder else (model_name(model) if model else None)
        self._embedder = embedder
        self._lock = threading.RLock()
        self._switching = threading.Lock()
        self._generation = self._open_live()

    # -- opening -----------------------------------------------------------------------

    def _open_live(self) -> Generation:
        generation = Generation(self.folder.lease_current())
        built_with = generation.manifest.model
        if self._expected_model is not None and built_with != self._expected_model:
            raise ModelMismatch(
                f"{self.folder.path} was built with model {built_with!r}, not "
                f"{self._expected_model!r}; rebuild it to change models"
            )
        return generation

    def _current(self, wait: bool = False) -> Generation:
        """The live generation; after a switch, the first caller opens the new one.

        Callers that arrive while it opens keep reading the previous generation
        (complete, and kept on disk by its lease) instead of queueing behind the
        open, unless ``wait`` asks for the live one, as a writer must.
        """
        generation = self._generation
        if self.folder.live_name() == generation.name:
            return generation
        if not self._switching.acquire(blocking=wait):
            return generation
        try:
            if self.folder.live_name() != self._generation.name:
                self._generation = self._open_live()
            return self._generation
        finally:
            self._switching.release()

    @property
    def manifest(self) -> Manifest:
        return self._current().manifest

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self._generation.manifest.model)
            return self._embedder

    # -- building ----------------------------------------------------------------------

    @classmethod
    def rebuild(
        cls,
        sources: Sequence[str | Path],
        path: str | Path,
        model: str | None = None,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
        settings: PassageSettings | None = None,
    ) -> tuple[Engine, BuildReport]:
        """Build a new generation from ``sources`` and switch to it atomically.

        The live generation is untouched until the switch, so a failed or killed
        rebuild leaves the index exactly as it was.
        """
        embedder = embedder or load_embedder(model)
        report = build_generation(IndexFolder(path), sources, embedder, settings, progress)
        return cls(path, embedder=embedder), report

    def add_files(
        self, sources: Sequence[str | Path], progress: Progress | None = None
    ) -> BuildReport:
        """Upsert every valid article from ``sources`` (an id already indexed is replaced)."""
        report = ReadReport()
        files = expand_sources(sources)
        result = self.write(read_articles(files, report), progress=progress)
        result.rejected = report.errors
        return result

    def write(
        self,
        upserts: Iterable[Article] = (),
        deletes: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> BuildReport:
        """Upsert and delete articles on both sides as one new generation.

        The live generation is never touched: the write copies it (hard links, see
        ``IndexFolder.new_generation``), changes both sides of the copy, and switches
        CURRENT to the copy in one atomic step. A crash at any point leaves the
        previous generation live and whole (the next write deletes the unfinished
        copy), so no reader and no later open can see an article on one side only,
        and nothing needs repair.
        """
        with self.folder.writer_lock():
            target, report = derive_generation(
                self.folder,
                self._current(wait=True),
                upserts,
                deletes,
                lambda: self.embedder,
                progress,
            )
            if target is None:
                return report
            self.folder.switch_to(target)
            with self._switching:
                # Let go of the old generation now, so the cleanup below can take it.
                self._generation = self._open_live()
            self.folder.remove_stale()
        return report

    def delete(self, article_ids: Sequence[str]) -> int:
        """Delete articles by id; return how many existed."""
        return self.write(deletes=article_ids).deleted

    # -- reading -----------------------------------------------------------------------

    def get(self, article_id: str) -> Article:
        return self._current().lexical.get(article_id)

    def articles(self) -> Iterator[Article]:
        """Every stored article of one generation, held until the iteration ends."""
        generation = self._current()
        yield from generation.lexical.articles()

    def stats(self) -> dict[str, Any]:
        generation = self._current()
        return {
            "index": str(self.folder.path),
            **generation.manifest.to_dict(),
            "articles": generation.lexical.count(),
            "passage_count": generation.vectors.passage_count,
        }

    def rank(
        self,
        query: str,
        mode: Mode = "hybrid",
        depth: int = CANDIDATE_DEPTH,
        fusion: str = DEFAULT_FUSION,
        filters: Filters | None = None,
        sort: Sort = "relevance",
        complete: bool = False,
        plain: bool = False,
    ) -> Ranking:
        """Rank up to ``depth`` articles for ``query`` without building display hits.

        See ``_rank_hits``; this ranks on the live generation.
        """
        return self._rank_hits(
            self._current(), query, mode, depth, fusion, filters, sort, complete, plain
        )[0]

    def _rank_hits(
        self,
        generation: Generation,
        query: str,
        mode: Mode,
        depth: int,
        fusion: str,
        filters: Filters | None,
        sort: Sort,
        complete: bool = False,
        plain: bool = False,
        reach: int | None = None,
    ) -> tuple[Ranking, LexicalHits | None]:
        """Rank up to ``depth`` articles of ``generation`` for ``query``.

        ``plain`` reads the query as words only, ignoring query syntax (for pasted
        prose, where a stray quote is punctuation). ``filters`` narrow both sides.
        ``complete`` ranks every lexical match, not just ``depth``: in hybrid mode
        those beyond the fused candidates follow them in lexical order (no fused
        score; ``score`` stays at the lowest fused one), so paging and export reach
        every match. The lexical side's hits come back too (None in semantic mode).

        ``reach`` stops a complete ranking after that many lexical matches: the
        order and scores of those are the complete ranking's, ``total`` still counts
        every match, and what lies beyond is never turned into Python objects (at
        100k articles a common word matches most of the archive).
        """
        if mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if plain:
            query = plain_words(query)
        if fusion not in FUSIONS:
            raise QueryError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
        where = filters.query() if filters else None
        terms: frozenset[str] = frozenset()
        lexical: list[tuple[str, float]] = []
        semantic: list[SemanticHit] = []
        total = 0
        found: LexicalHits | None = None
        parsed: ParsedQuery | None = None
        if mode == "semantic":
            # Natural-language questions need not be valid query syntax here.
            text = check_query_text(query)
            with contextlib.suppress(QueryError):
                parsed = generation.lexical.parser.parse(query)
        else:
            parsed = generation.lexical.parser.parse(query)
            text = parsed.text
        corrected = None
        if parsed is not None and parsed.is_keyword_query:
            correction = correct_query(parsed.text, generation.lexical)
            if correction is not None:
                corrected = correction.text
                parsed = generation.lexical.parser.parse(corrected)
        if mode != "semantic":
            assert parsed is not None
            found = generation.lexical.search(
                parsed, None if complete else depth, where, first=reach if complete else None
            )
            lexical, total = found.ranked, found.total
        known = 1.0
        if parsed is not None:
            terms = generation.lexical.query_terms(parsed)
            known = known_share(generation.lexical, generation.lexical.terms_by_language(parsed))
        if mode != "lexical":
            vector = self.embedder.encode([semantic_text(text)])[0]
            if parsed is not None:
                vector = ground_query_vector(
                    vector,
                    parsed,
                    generation.lexical,
                    generation.vectors,
                    generation.manifest.passages,
                    self.expansion,
                )
            semantic = rank_articles(
                generation.vectors,
                vector,
                depth,
                self.semantic,
                self._outside(generation, where),
                is_keyword_text(text),
                known,
            )

        lexical_at = {aid: (rank, score) for rank, (aid, score) in enumerate(lexical, 1)}
        semantic_at = {h.article_id: (rank, h) for rank, h in enumerate(semantic, 1)}
        fused: set[str] = set()
        if mode == "lexical":
            ranked = lexical
        elif mode == "semantic":
            ranked = [(h.article_id, h.score) for h in semantic]
            total = len(ranked)
        else:
            keywords = is_keyword_text(text)
            coverage = 1.0  # read for keyword queries only
            if keywords:
                assert parsed is not None
                coverage = generation.lexical.coverage(parsed, lexical[0][0]) if lexical else 0.0
            ranked = fuse(
                fusion,
                lexical[:depth],
                [(h.article_id, h.score) for h in semantic],
                lexical_weight_for(text, known, coverage),
                unranked_lexical_is_zero=not keywords,
            )
            fused = {article_id for article_id, _ in ranked}
            floor = ranked[-1][1] if ranked else 0.0
            ranked += [(a, floor) for a, _ in lexical[depth:] if a not in fused]
            assert found is not None
            total += sum(1 for a in fused if not found.matches(a))  # semantic-only candidates
        if sort != "relevance":
            order = generation.lexical.columns().by_date(
                [article_id for article_id, _ in ranked], newest_first=sort == "date"
            )
            ranked = [ranked[i] for i in order]
        items = []
        for article_id, score in ranked if complete else ranked[:depth]:
            lex = lexical_at.get(article_id)
            sem = semantic_at.get(article_id)
            scores = Scores(
                lexical=lex[1] if lex else None,
                semantic=sem[1].score if sem else None,
                fused=score if mode == "hybrid" and article_id in fused else None,
                lexical_rank=lex[0] if lex else None,
                semantic_rank=sem[0] if sem else None,
            )
            items.append(Ranked(article_id, score, scores, sem[1].passage if sem else None))
        return Ranking(text, mode, total, items, terms, corrected), found

    def search(
        self,
        query: str,
        mode: Mode = "hybrid",
        limit: int = 10,
        offset: int = 0,
        fusion: str = DEFAULT_FUSION,
        filters: Filters | None = None,
        sort: Sort = "relevance",
        cursor: str | None = None,
        facets: bool = False,
    ) -> SearchResults:
        """One page of ranked hits for ``query``, with snippets and explained scores.

        Every page is a slice of one complete ranking, so ``cursor`` (the ``next`` of
        the previous page) reaches any depth. Sorted by relevance, the ranking is
        made only as deep as the page reaches; ``total`` counts every match.
        """
        _check_page(limit, offset)
        if cursor is not None and offset:
            raise QueryError("give offset or cursor, not both")
        # The semantic side has no natural end, so offset paging looks deeper there.
        depth = max(CANDIDATE_DEPTH, offset + limit) if mode == "semantic" else CANDIDATE_DEPTH
        # One generation serves the whole request, even if a write switches meanwhile.
        generation = self._current()
        # Ranking by relevance, a page needs the matches down to its end, not all
        # of them; date order needs every match (facets count them from ``found``).
        every = sort != "relevance"
        # A cursor's article may have moved down since its page: room for a page more.
        wanted = offset + limit if cursor is None else claimed_position(cursor) + limit + MAX_LIMIT
        reach = None if every else max(CANDIDATE_DEPTH, wanted)
        ranking, found = self._rank_hits(
            generation, query, mode, depth, fusion, filters, sort, complete=True, reach=reach
        )
        ids = [item.article_id for item in ranking.items]
        key = fingerprint(
            {
                "q": ranking.query,
                "mode": mode,
                "fusion": fusion,
                "sort": sort,
                **(filters or Filters()).to_dict(),
            }
        )
        start = offset if cursor is None else resume_position(decode_cursor(cursor, key), ids)
        # ``ids`` ends early only where the ranking stopped at ``reach``.
        end = min(start + limit, len(ids))
        page = build_page(generation.lexical, generation.manifest.passages, ranking, limit, start)
        if found is not None and reach is not None:
            page = replace(page, hits=[explained(hit, found) for hit in page.hits])
        return replace(
            page,
            sort=sort,
            next=encode_cursor(Cursor(end, ids[end - 1]), key) if end < ranking.total else None,
            facets=self._facets(generation, ids, found) if facets else None,
        )

    def _facets(self, generation: Generation, ids: list[str], found: LexicalHits | None) -> Facets:
        """Facets of every match: the ranked articles and all lexical matches."""
        columns = generation.lexical.columns()
        docnums = columns.docnums(ids)
        if found is not None:
            docnums = np.concatenate([docnums, found.docnums()])
        return count_documents(columns, docnums)

    def matches(
        self,
        query: str,
        mode: Mode = "hybrid",
        fusion: str = DEFAULT_FUSION,
        filters: Filters | None = None,
        sort: Sort = "relevance",
    ) -> Iterator[tuple[Article, Ranked]]:
        """Every match of ``query`` in ranking order, for export.

        The ranking (ids and scores) is made now, so a bad query raises here; the
        stored articles are loaded one at a time as the iterator is read.
        """
        generation = self._current()
        ranking, _found = self._rank_hits(
            generation, query, mode, CANDIDATE_DEPTH, fusion, filters, sort, complete=True
        )
        return stored_articles(generation.lexical, ranking.items)

    def facets(self, filters: Filters | None = None) -> Facets:
        """How the archive (or its filtered part) spreads over months, sources and more."""
        lexical = self._current().lexical
        where = filters.query() if filters else None
        ids = lexical.matching_ids(where) if where else lexical.columns().docnum_of.keys()
        return count_facets(lexical.columns(), ids)

    def _outside(self, generation: Generation, where: WhooshQuery | None) -> frozenset[str]:
        """The vector side's articles a filter leaves out (FAISS skips them)."""
        if where is None:
            return frozenset()
        return frozenset(generation.vectors.ids() - generation.lexical.matching_ids(where))

    def rank_similar(
        self,
        article_id: str | None = None,
        text: str | None = None,
        depth: int = CANDIDATE_DEPTH,
        filters: Filters | None = None,
    ) -> Ranking:
        """Rank articles by closeness in meaning to a stored article (never itself) or a text."""
        return self._rank_similar(self._current(), article_id, text, depth, filters)

    def _rank_similar(
        self,
        generation: Generation,
        article_id: str | None,
        text: str | None,
        depth: int,
        filters: Filters | None,
    ) -> Ranking:
        if (article_id is None) == (text is None):
            raise QueryError("give either an article id or a text, not both or neither")
        exclude = self._outside(generation, filters.query() if filters else None)
        if article_id is not None:
            generation.lexical.get(article_id)  # raises ArticleNotFound for an unknown id
            label = article_id
            found = rank_like(
                generation.vectors,
                article_id,
                depth,
                self.semantic,
                exclude,
                generation.neighbours,
            )
            exclude |= {article_id}
        else:
            label = check_query_text(text or "")
            vector = self.embedder.encode([label])[0]
            found = rank_articles(
                generation.vectors, vector, depth, self.semantic, exclude, is_keyword_text(label)
            )
        items = [
            Ranked(
                sem.article_id,
                sem.score,
                Scores(semantic=sem.score, semantic_rank=rank),
                sem.passage,
            )
            for rank, sem in enumerate(found, start=1)
        ]
        vectors = generation.vectors
        total = len(vectors) - sum(1 for a in exclude if a in vectors)  # no copy of every id
        return Ranking(label, "semantic", total, items, frozenset())

    def similar(
        self,
        article_id: str | None = None,
        text: str | None = None,
        limit: int = 10,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> SearchResults:
        """One page of articles similar to a stored article or to free text."""
        _check_page(limit, offset)
        generation = self._current()
        ranking = self._rank_similar(generation, article_id, text, offset + limit, filters)
        return build_page(generation.lexical, generation.manifest.passages, ranking, limit, offset)


def known_share(lexical: LexicalIndex, terms: dict[str, frozenset[str]]) -> float:
    """The share of query terms the archive uses at all (1.0 for no terms).

    It says how much of a query the lexical side can see; both the fusion weight
    and the semantic blend for keywords read it. ``terms`` holds the query's terms
    per analysis language, each looked up in that language's fields; the language
    that sees most of the query counts.
    """
    shares = [
        sum(lexical.doc_frequency(term, FIELDS_OF_LANGUAGE[language]) > 0 for term in found)
        / len(found)
        for language, found in terms.items()
        if found
    ]
    return max(shares, default=1.0)
