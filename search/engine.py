"""The engine facade: one object that the CLI, the API and the tests all use.

An ``Engine`` is opened on an index folder. It follows the folder's live generation,
so a long-running server picks up a rebuild or another process's writes on its next
request without a restart. Every write builds a new generation and switches to it
(see ``search.storage.folder``), so what an engine reads never changes under it.
Reading a query is ``search.retrieval.plan``'s, ranking ``search.retrieval.ranking``'s;
the engine picks the generation, pages and shapes the results.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from search.budget import SEARCH_SECONDS, Budget
from search.errors import ModelMismatch, QueryError
from search.ingest.article import Article
from search.ingest.indexing import BatchEmbedding, Progress
from search.ingest.passages import PassageSettings
from search.ingest.readers import ReadReport, expand_sources, read_articles
from search.lexical.parse import MAX_QUERY_CHARS, plain_words
from search.retrieval.collapse import one_per_story, with_copies, without_copies_of
from search.retrieval.facets import Facets, count_documents, count_facets
from search.retrieval.filters import Filters
from search.retrieval.fusion import DEFAULT_FUSION, FUSIONS
from search.retrieval.hits import build_page, explained, stored_articles
from search.retrieval.paging import (
    MAX_LIMIT,
    check_page,
    claimed_position,
    fingerprint,
    next_cursor,
    window,
)
from search.retrieval.plan import QueryPlan, make_plan
from search.retrieval.ranking import (
    CANDIDATE_DEPTH,
    SIMILAR_DEPTH,
    Matches,
    rank,
    rank_similar,
)
from search.retrieval.results import SORTS, Mode, Ranked, Ranking, SearchResults, Sort
from search.semantic.embedders import Embedder, embed_query, load_embedder, model_name
from search.semantic.grounding import ExpansionSettings
from search.semantic.ranking import SemanticSettings
from search.storage.folder import IndexFolder
from search.storage.generations import (
    BuildReport,
    Generation,
    ShardSinks,
    SourceReading,
    build_generation,
)
from search.storage.manifest import Manifest
from search.storage.shards import DEFAULT_SHARD_BY, ShardBy
from search.storage.writes import write_generation

# Called on every generation the engine opens, before it reads it: places its vector
# searches elsewhere (``search.cluster.serving``, ``serve --ray``).
Searchers = Callable[[Generation], None]
# Engines open in this process, by index and model: a serving process forked after
# ``shared_engine`` (``serve --workers``) finds the one its parent loaded.
_SHARED: weakref.WeakValueDictionary[tuple[str, str | None], Engine] = weakref.WeakValueDictionary()


def shared_engine(
    path: str | Path, model: str | None = None, searchers: Searchers | None = None
) -> Engine:
    """The engine this process has open on ``path`` with ``model``, opened on first use
    (with ``searchers``, see ``Engine``)."""
    key = (str(Path(path).resolve()), model)
    engine = _SHARED.get(key)
    if engine is None:
        engine = _SHARED[key] = Engine(path, model=model, searchers=searchers)
    return engine


def _check_options(fusion: str, sort: str) -> None:
    if fusion not in FUSIONS:
        raise QueryError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")


class Engine:
    """Search, similar articles and writes over one index folder.

    ``searchers`` (``serve --ray``) is called on each generation the engine opens,
    before any request reads it, and may send its vector searches elsewhere.
    """

    def __init__(
        self,
        path: str | Path,
        model: str | None = None,
        embedder: Embedder | None = None,
        expansion: ExpansionSettings | None = None,
        semantic: SemanticSettings | None = None,
        write_wait: float = 0.0,
        search_seconds: float = SEARCH_SECONDS,
        searchers: Searchers | None = None,
    ) -> None:
        self.folder = IndexFolder(path)
        # Seconds a write waits for another writer to finish before it gives up.
        self.write_wait = write_wait
        # Seconds a search runs before it returns what it has (``timed_out``).
        self.search_seconds = search_seconds
        self.expansion = expansion or ExpansionSettings()
        self.semantic = semantic or SemanticSettings()
        self._expected_model = embedder.name if embedder else (model_name(model) if model else None)
        self._embedder = embedder
        self._searchers = searchers
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
        if self._searchers is not None:
            self._searchers(generation)
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

    def _load_embedder(self) -> Embedder:
        return self.embedder

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
        read: ReadReport | None = None,
        mapping: Mapping[str, str] | None = None,
        wait: float = 0.0,
        shard_by: ShardBy = DEFAULT_SHARD_BY,
        embed: BatchEmbedding | None = None,
        shard_sinks: ShardSinks | None = None,
        read_sources: SourceReading = read_articles,
    ) -> tuple[Engine, BuildReport]:
        """Build a new generation from ``sources``, in shards ``shard_by`` date, and
        switch to it atomically.

        The live generation is untouched until the switch, so a failed or killed
        rebuild leaves the index exactly as it was. ``mapping`` names fields the
        readers do not know (``{"body": "Inhalt"}``); ``read`` collects what was read;
        ``wait`` is how long to wait for another writer's lock; ``embed`` is a
        cluster's embedding step (``search.cluster.embedding``), ``shard_sinks``
        its shard building (``search.cluster.building``) and ``read_sources`` its
        reading (``search.cluster.reading``).
        """
        embedder = embedder or load_embedder(model)
        folder = IndexFolder(path)
        report = build_generation(
            folder,
            sources,
            embedder,
            settings,
            progress,
            read,
            mapping,
            wait,
            shard_by,
            embed,
            shard_sinks,
            read_sources,
        )
        return cls(path, embedder=embedder), report

    def add_files(
        self,
        sources: Sequence[str | Path],
        progress: Progress | None = None,
        read: ReadReport | None = None,
        mapping: Mapping[str, str] | None = None,
    ) -> BuildReport:
        """Upsert every valid article from ``sources`` (an id already indexed is replaced)."""
        read = read if read is not None else ReadReport()
        expand_sources(sources)  # a bad path fails here, before anything is embedded
        return self.write(read_articles(sources, read, mapping), progress=progress, read=read)

    def write(
        self,
        upserts: Iterable[Article] = (),
        deletes: Sequence[str] = (),
        progress: Progress | None = None,
        read: ReadReport | None = None,
    ) -> BuildReport:
        """Upsert and delete articles on both sides as one new generation.

        The upserts are read and embedded first, without the writer lock (a staging
        folder keeps memory bounded); the lock is held only to build the copy and
        switch. The live generation is never touched: the write copies it (hard
        links, see ``IndexFolder.new_generation``), changes both sides of the copy,
        and switches CURRENT to the copy in one atomic step. A crash at any point
        leaves the previous generation live and whole, so no reader and no later
        open can see an article on one side only, and nothing needs repair.
        """
        return write_generation(
            self.folder,
            lambda: self._current(wait=True),
            self._follow_switch,
            upserts,
            deletes,
            self._load_embedder,
            progress,
            read,
            self.write_wait,
        )

    def _follow_switch(self) -> None:
        """Open the generation a write just switched to, letting go of the old one."""
        with self._switching:
            self._generation = self._open_live()

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
            "shards": generation.shard_stats(),
        }

    def _embed(self, text: str) -> np.ndarray:
        return embed_query(self.embedder, text)

    def plan(
        self,
        query: str,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
        strict: bool = False,
    ) -> QueryPlan:
        """How ``query`` is read on the live generation (see ``search.retrieval.plan``)."""
        return make_plan(query, mode, self._current().lexical, filters, strict)

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
        """Rank ``query``'s matches without building display hits: the first ``depth``
        of them, or with ``complete`` all. ``plain`` reads the query as words only
        (judged queries are prose or keywords, never syntax)."""
        _check_options(fusion, sort)
        generation = self._current()
        plan = make_plan(plain_words(query) if plain else query, mode, generation.lexical, filters)
        reach = None if complete else depth
        ranking, _matches = self._rank(generation, plan, fusion, sort, reach, depth)
        return ranking if complete else replace(ranking, items=ranking.items[:depth])

    def _rank(
        self,
        generation: Generation,
        plan: QueryPlan,
        fusion: str,
        sort: Sort,
        reach: int | None,
        depth: int = CANDIDATE_DEPTH,
    ) -> tuple[Ranking, Matches]:
        return rank(
            plan, generation, self._embed, self.semantic, self.expansion, fusion, sort, depth, reach
        )

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
        strict: bool = False,
        collapse: bool = True,
    ) -> SearchResults:
        """One page of ranked matches for ``query``, with snippets and explained scores.

        Every page is a slice of one ranking of every match, so offsets and the
        cursor (the ``next`` of the previous page) walk one list with one total.
        Sorted by relevance, the ranking is made only as deep as the page reaches.
        ``collapse`` shows each agency story once, at its best-ranked copy, with the
        other copies in its ``duplicates``; the total and facets then count stories.
        """
        check_page(limit, offset, cursor)
        _check_options(fusion, sort)
        # One generation serves the whole request, even if a write switches meanwhile.
        generation = self._current()
        plan = make_plan(query, mode, generation.lexical, filters, strict)
        # A cursor's article may have moved down since its page: room for a page more.
        wanted = offset + limit if cursor is None else claimed_position(cursor) + limit + MAX_LIMIT
        reach = None if sort != "relevance" else max(CANDIDATE_DEPTH, wanted)
        budget = Budget(self.search_seconds)
        columns = generation.lexical.columns()
        collapse = collapse and bool(columns.story_groups())
        with budget.spent_by_this_search():
            ranking, matches = self._rank(generation, plan, fusion, sort, reach)
            # Copies of one story leave fewer stories than articles: rank deeper
            # until the page is full or the matches end.
            while (
                collapse
                and reach is not None
                and len(ranking.items) == reach
                and len(one_per_story(ranking, matches.docnums(), columns)[0].items) < wanted
            ):
                reach *= 2
                ranking, matches = self._rank(generation, plan, fusion, sort, reach)
        docnums = matches.docnums()
        if collapse:
            ranking, docnums = one_per_story(ranking, docnums, columns)
        ids = [item.article_id for item in ranking.items]
        key = fingerprint(
            {"q": plan.text, "mode": mode, "fusion": fusion, "sort": sort, **plan.filters.to_dict()}
            | ({"collapse": False} if not collapse else {})
        )
        # ``ids`` ends early only where the ranking stopped at ``reach``.
        start, end = window(ids, limit, offset, cursor, key)
        page = build_page(generation.lexical, ranking, limit, start)
        if matches.lexical is not None:
            page = replace(page, hits=[explained(hit, matches.lexical) for hit in page.hits])
        if collapse:
            page = replace(page, hits=with_copies(page.hits, generation.lexical, columns))
        return replace(
            page,
            sort=sort,
            next=next_cursor(ids, end, ranking.total, key),
            facets=count_documents(columns, docnums) if facets else None,
            interpreted_as=plan.interpreted_as,
            notices=[*plan.notices, *budget.notices],
            timed_out=budget.timed_out,
            shards=ranking.shards,
        )

    def matches(
        self,
        query: str,
        mode: Mode = "hybrid",
        fusion: str = DEFAULT_FUSION,
        filters: Filters | None = None,
        sort: Sort = "relevance",
        strict: bool = False,
        budget: Budget | None = None,
    ) -> Iterator[tuple[Article, Ranked]]:
        """Every match of ``query`` in ranking order, for export.

        The ranking (ids and scores) is made now, within ``budget``; the stored
        articles are loaded one at a time as the iterator is read, from the
        generation ranked, which the iterator holds (lease and all) until it ends:
        a write meanwhile never deletes what an export still reads.
        """
        _check_options(fusion, sort)
        generation = self._current()
        plan = make_plan(query, mode, generation.lexical, filters, strict)
        with (budget or Budget(self.search_seconds)).spent_by_this_search():
            ranking, _matches = self._rank(generation, plan, fusion, sort, None)
        return _stored(generation, ranking.items)

    def facets(self, filters: Filters | None = None) -> Facets:
        """How the archive (or its filtered part) spreads over months, sources and more."""
        lexical = self._current().lexical
        where = filters.query() if filters else None
        ids = lexical.matching_ids(where) if where else lexical.columns().docnum_of.keys()
        return count_facets(lexical.columns(), ids)

    def rank_similar(
        self,
        article_id: str | None = None,
        text: str | None = None,
        depth: int = SIMILAR_DEPTH,
        filters: Filters | None = None,
    ) -> Ranking:
        """Rank articles by closeness in meaning to a stored article (never itself) or a text."""
        return rank_similar(
            self._current(), self._embed, self.semantic, article_id, text, depth, filters
        )

    def similar(
        self,
        article_id: str | None = None,
        text: str | None = None,
        limit: int = 10,
        offset: int = 0,
        filters: Filters | None = None,
        cursor: str | None = None,
    ) -> SearchResults:
        """One page of the articles most similar to a stored article or to free text.

        The list holds the ``SIMILAR_DEPTH`` closest; its pages walk it like a search's.
        """
        check_page(limit, offset, cursor)
        generation = self._current()
        ranking = rank_similar(
            generation, self._embed, self.semantic, article_id, text, SIMILAR_DEPTH, filters
        )
        if article_id is not None:
            ranking = without_copies_of(article_id, ranking, generation.lexical.columns())
        ids = [item.article_id for item in ranking.items]
        key = fingerprint({"similar": ranking.query, **(filters or Filters()).to_dict()})
        start, end = window(ids, limit, offset, cursor, key)
        page = build_page(generation.lexical, ranking, limit, start)
        notices = []
        if text is not None and len(" ".join(text.split())) > MAX_QUERY_CHARS:
            notices.append(f"The text was shortened to its first {MAX_QUERY_CHARS:,} characters.")
        return replace(
            page,
            next=next_cursor(ids, end, len(ids), key),
            notices=notices,
            shards=ranking.shards,
        )


def _stored(generation: Generation, items: list[Ranked]) -> Iterator[tuple[Article, Ranked]]:
    """The stored articles of ``items``; the generator's frame holds ``generation``, and
    with it the reader lease, until the last one is read or the generator is dropped."""
    yield from stored_articles(generation.lexical, items)
