"""The engine facade: one object that the CLI, the API and the tests all use.

An ``Engine`` is opened on an index folder. It follows the folder's live generation,
so a long-running server picks up a rebuild or another process's writes on its next
request without a restart.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from search.articles import Article, ReadReport, RecordError, expand_sources, read_articles
from search.embeddings import Embedder, load_embedder, model_name
from search.errors import ArticleNotFound, InputError, ModelMismatch, QueryError, WriterBusy
from search.expansion import ExpansionSettings, ground_query_vector
from search.fusion import reciprocal_rank_fusion
from search.indexing import IndexingStats, Progress, batches, embed_articles, index_articles
from search.lexical import LexicalIndex
from search.manifest import MANIFEST_FILE, Manifest
from search.passages import PassageSettings, split_passages
from search.query import ParsedQuery, check_query_text
from search.results import MODES, Hit, Mode, Scores, SearchResults
from search.store import IndexFolder
from search.vectors import SemanticHit, VectorIndex

MAX_LIMIT = 100
CANDIDATE_DEPTH = 100
JOURNAL_FILE = "pending.json"
_QUERY_SYNTAX = re.compile(r"\b[A-Za-z_]\w*:|[\"()*^~\[\]{}]|\b(?:AND|OR|NOT|TO)\b")


@dataclass
class BuildReport:
    """What a rebuild or an add did: counts, timing and the records it rejected."""

    generation: str
    stats: IndexingStats
    rejected: list[RecordError] = field(default_factory=list)
    deleted: int = 0


class _Generation:
    """One opened generation: its manifest, lexical index and vectors."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = folder.name
        self.manifest = Manifest.load(folder)
        self.lexical = LexicalIndex(folder / "lexical")
        self.vectors = VectorIndex.load(folder)
        self.stamp = _stamp(folder)


def _stamp(folder: Path) -> int:
    return (folder / MANIFEST_FILE).stat().st_mtime_ns


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
    ) -> None:
        self.folder = IndexFolder(path)
        self.expansion = expansion or ExpansionSettings()
        self._expected_model = embedder.name if embedder else (model_name(model) if model else None)
        self._embedder = embedder
        self._lock = threading.RLock()
        self._generation = self._open_current()
        if (self._generation.folder / JOURNAL_FILE).exists():
            self._repair_if_idle()

    def _repair_if_idle(self) -> None:
        """Replay a crashed write's journal now, unless a live writer owns it."""
        try:
            with self.folder.writer_lock():
                self._repair(self._current())
        except WriterBusy:
            pass  # that writer is still running and will finish its own journal

    # -- opening -----------------------------------------------------------------------

    def _open_current(self) -> _Generation:
        generation = _Generation(self.folder.current())
        built_with = generation.manifest.model
        if self._expected_model is not None and built_with != self._expected_model:
            raise ModelMismatch(
                f"{self.folder.path} was built with model {built_with!r}, not "
                f"{self._expected_model!r}; rebuild it to change models"
            )
        return generation

    def _current(self) -> _Generation:
        """The live generation, re-opened when a rebuild switched or a writer changed it."""
        with self._lock:
            generation = self._generation
            try:
                changed = (
                    self.folder.current_name() != generation.name
                    or _stamp(generation.folder) != generation.stamp
                )
            except OSError:
                changed = False
            if changed:
                self._generation = self._open_current()
            return self._generation

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
        files = expand_sources(sources)
        embedder = embedder or load_embedder(model)
        settings = settings or PassageSettings()
        folder = IndexFolder(path)
        report = ReadReport()
        with folder.writer_lock():
            target = folder.new_generation()
            try:
                lexical = LexicalIndex.create(target / "lexical")
                vectors = VectorIndex(embedder.dim)
                with lexical.writer(fresh=True) as writer:
                    stats = index_articles(
                        read_articles(files, report), writer, vectors, embedder, settings, progress
                    )
                    if stats.articles == 0:
                        raise InputError(
                            "no valid article in the sources; index left unchanged:"
                            + "".join(f"\n  {e}" for e in report.errors[:20])
                        )
                lexical.close()
                vectors.save(target)
                Manifest(
                    model=embedder.name,
                    dim=embedder.dim,
                    generation=target.name,
                    passages=settings,
                    articles=stats.articles,
                    passage_count=vectors.passage_count,
                ).save(target)
                folder.switch_to(target)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
        return cls(path, embedder=embedder), BuildReport(target.name, stats, report.errors)

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
        """Upsert and delete articles on both sides under the writer lock.

        Order: journal the ids, commit the lexical side, save the vectors, drop the
        journal. A crash in between leaves a journal that the next writer replays
        (see ``repair``), so no article stays on one side only.
        """
        with self.folder.writer_lock():
            generation = self._current()
            self._repair(generation)
            settings = generation.manifest.passages
            embedded: list[tuple[Article, np.ndarray]] = []
            stats = IndexingStats()
            for batch in batches(upserts, 64):
                embedded.extend(
                    zip(batch, embed_articles(batch, self.embedder, settings), strict=True)
                )
                if progress is not None:
                    progress(len(batch))
            missing = [i for i in deletes if not generation.lexical.has(i)]
            with self._lock:
                self._journal(generation, [a.id for a, _ in embedded], list(deletes))
                try:
                    with generation.lexical.writer() as writer:
                        for article_id in deletes:
                            writer.delete(article_id)
                        for article, _ in embedded:
                            writer.upsert(article)
                    for article_id in deletes:
                        generation.vectors.remove(article_id)
                    for article, matrix in embedded:
                        generation.vectors.add(article.id, matrix)
                        stats.articles += 1
                        stats.passages += len(matrix)
                    self._save(generation)
                except BaseException:
                    # Memory may now disagree with disk; the journal repairs disk on the
                    # next write and a fresh open restores memory.
                    self._generation = self._open_current()
                    raise
            return BuildReport(generation.name, stats, deleted=len(deletes) - len(missing))

    def delete(self, article_ids: Sequence[str]) -> int:
        """Delete articles by id; return how many existed."""
        return self.write(deletes=article_ids).deleted

    def _journal(self, generation: _Generation, upserts: list[str], deletes: list[str]) -> None:
        path = generation.folder / JOURNAL_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"upserts": upserts, "deletes": deletes}), encoding="utf-8")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def _save(self, generation: _Generation) -> None:
        generation.vectors.save(generation.folder)
        generation.manifest.articles = generation.lexical.count()
        generation.manifest.passage_count = generation.vectors.passage_count
        generation.manifest.save(generation.folder)
        generation.stamp = _stamp(generation.folder)
        (generation.folder / JOURNAL_FILE).unlink(missing_ok=True)

    def _repair(self, generation: _Generation) -> None:
        """Finish a write that crashed: make both sides agree for every journaled id.

        The lexical side is the article store and commits first, so it is the truth:
        an id it holds is re-embedded from its stored text, an id it lacks is removed
        from the vectors.
        """
        path = generation.folder / JOURNAL_FILE
        if not path.exists():
            return
        journal = json.loads(path.read_text(encoding="utf-8"))
        with self._lock:
            for article_id in {*journal["upserts"], *journal["deletes"]}:
                if generation.lexical.has(article_id):
                    article = generation.lexical.get(article_id)
                    matrix = embed_articles([article], self.embedder, generation.manifest.passages)[
                        0
                    ]
                    generation.vectors.add(article_id, matrix)
                else:
                    generation.vectors.remove(article_id)
            self._save(generation)

    # -- reading -----------------------------------------------------------------------

    def get(self, article_id: str) -> Article:
        return self._current().lexical.get(article_id)

    def articles(self) -> Iterable[Article]:
        return self._current().lexical.articles()

    def stats(self) -> dict[str, Any]:
        generation = self._current()
        return {
            "index": str(self.folder.path),
            **generation.manifest.to_dict(),
            "articles": generation.lexical.count(),
            "passage_count": generation.vectors.passage_count,
        }

    def search(
        self, query: str, mode: Mode = "hybrid", limit: int = 10, offset: int = 0
    ) -> SearchResults:
        """Rank articles for ``query``; hybrid fuses both sides by reciprocal rank."""
        if mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        _check_page(limit, offset)
        generation = self._current()
        depth = max(CANDIDATE_DEPTH, offset + limit)
        terms: frozenset[str] = frozenset()
        lexical: list[tuple[str, float]] = []
        semantic: list[SemanticHit] = []
        total = 0
        parsed: ParsedQuery | None = None
        if mode == "semantic":
            # Natural-language questions need not be valid query syntax here.
            text = check_query_text(query)
            with contextlib.suppress(QueryError):
                parsed = generation.lexical.parser.parse(query)
        else:
            parsed = generation.lexical.parser.parse(query)
            text = parsed.text
            found = generation.lexical.search(parsed, depth)
            lexical, total = found.ranked, found.total
        if parsed is not None:
            terms = generation.lexical.query_terms(parsed)
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
            semantic = generation.vectors.search(vector, depth)

        lexical_at = {aid: (rank, score) for rank, (aid, score) in enumerate(lexical, 1)}
        semantic_at = {h.article_id: (rank, h) for rank, h in enumerate(semantic, 1)}
        if mode == "lexical":
            ranked = lexical
        elif mode == "semantic":
            ranked = [(h.article_id, h.score) for h in semantic]
            total = len(ranked)
        else:
            ranked = reciprocal_rank_fusion(
                [[a for a, _ in lexical], [h.article_id for h in semantic]]
            )
            total = max(total, len(ranked))

        hits = []
        for article_id, score in ranked[offset : offset + limit]:
            lex = lexical_at.get(article_id)
            sem = semantic_at.get(article_id)
            scores = Scores(
                lexical=lex[1] if lex else None,
                semantic=sem[1].score if sem else None,
                fused=score if mode == "hybrid" else None,
                lexical_rank=lex[0] if lex else None,
                semantic_rank=sem[0] if sem else None,
            )
            hit = self._hit(
                generation, article_id, score, scores, terms, sem[1].passage if sem else None
            )
            if hit is not None:
                hits.append(hit)
        return SearchResults(
            query=text, mode=mode, total=total, offset=offset, limit=limit, hits=hits
        )

    def similar(
        self,
        article_id: str | None = None,
        text: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> SearchResults:
        """Articles nearest in meaning to a stored article (never itself) or to free text."""
        if (article_id is None) == (text is None):
            raise QueryError("give either an article id or a text, not both or neither")
        _check_page(limit, offset)
        generation = self._current()
        if article_id is not None:
            generation.lexical.get(article_id)  # raises ArticleNotFound for an unknown id
            vector = generation.vectors.vectors_of(article_id).mean(axis=0)
            vector /= max(float(np.linalg.norm(vector)), 1e-12)
            exclude = frozenset({article_id})
            label = article_id
        else:
            label = check_query_text(text or "")
            vector = self.embedder.encode([label])[0]
            exclude = frozenset()
        found = generation.vectors.search(vector, offset + limit, exclude=exclude)
        hits = []
        for rank, sem in enumerate(found[offset:], start=offset + 1):
            scores = Scores(semantic=sem.score, semantic_rank=rank)
            hit = self._hit(generation, sem.article_id, sem.score, scores, frozenset(), sem.passage)
            if hit is not None:
                hits.append(hit)
        return SearchResults(
            query=label,
            mode="semantic",
            total=len(generation.vectors) - len(exclude),
            offset=offset,
            limit=limit,
            hits=hits,
        )

    def _hit(
        self,
        generation: _Generation,
        article_id: str,
        score: float,
        scores: Scores,
        terms: frozenset[str],
        passage: int | None,
    ) -> Hit | None:
        try:
            article = generation.lexical.get(article_id)
        except ArticleNotFound:
            return None  # deleted between ranking and display
        return Hit(
            id=article.id,
            title=article.title,
            date=article.date,
            source=article.source,
            language=article.language,
            category=article.category,
            snippet=self._snippet(generation, article, terms, passage),
            score=score,
            scores=scores,
        )

    def _snippet(
        self, generation: _Generation, article: Article, terms: frozenset[str], passage: int | None
    ) -> str:
        """The passage that best explains the hit, with lexical matches marked.

        A passage holding query words wins (the reader sees why it matched); among
        those, or when none holds any, the semantic side's best passage wins.
        """
        lexical = generation.lexical
        if passage is None:
            return lexical.highlight(article.text, terms) or html.escape(_shorten(article.text))
        passages = split_passages(article, generation.manifest.passages)
        marked = [lexical.highlight(text, terms, whole=True) for text in passages]
        best = max(
            range(len(passages)), key=lambda i: (marked[i].count("<mark>") > 0, i == passage, -i)
        )
        return marked[best] or html.escape(passages[best])


def _shorten(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
