"""Index generations: opening one, building one from sources, deriving one by a write.

A generation is a folder holding both sides of the index (Whoosh and FAISS), the
neighbour table and the manifest; ``search.storage.folder`` lays them out and switches
between them. Published generations never change: a rebuild builds a new one
beside the live one, and a write derives a new one from a copy of the live one.
Either is removed again if anything fails before the switch, so the live index is
never half-written (docs/operations.md).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from search.errors import IndexDamaged, InputError
from search.ingest.article import RecordError
from search.ingest.duplicates import Stories
from search.ingest.indexing import IndexingStats, Progress, index_articles
from search.ingest.passages import PassageSettings
from search.ingest.readers import ReadReport, expand_sources, read_articles
from search.ingest.staging import Staged
from search.lexical.index import LexicalIndex
from search.semantic.embedders import Embedder
from search.semantic.neighbours import NEIGHBOURS_FILE, NeighbourTable
from search.semantic.vectors import KEYS_FILE, VECTORS_FILE, VectorIndex
from search.storage.folder import LEXICAL_DIR, IndexFolder, Lease
from search.storage.integrity import (
    CHECKSUMS_FILE,
    check_sizes,
    damage,
    open_part,
    write_checksums,
)
from search.storage.manifest import MANIFEST_FILE, Manifest


@dataclass
class BuildReport:
    """What a rebuild or an add did: counts, timing and the records it rejected."""

    generation: str
    stats: IndexingStats
    rejected: list[RecordError] = field(default_factory=list)
    deleted: int = 0
    # What reading saw: per-format counts, warnings, files skipped.
    read: ReadReport = field(default_factory=ReadReport)
    # Seconds the writer lock was held (a write embeds before it takes the lock).
    locked: float = 0.0


class Generation:
    """One opened generation: its manifest, lexical index and vectors, held by a lease.

    A published generation never changes, so this is never reloaded; the lease keeps
    its folder on disk for as long as any request still holds this object.
    """

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.folder = folder = lease.path
        self.name = lease.name
        self.manifest = Manifest.load(folder)  # first: an old schema asks for a rebuild
        check_sizes(folder)  # a truncated or missing file, named, before anything reads it
        if self.manifest.checksummed and not (folder / CHECKSUMS_FILE).is_file():
            raise IndexDamaged(f"{folder / CHECKSUMS_FILE}: missing")
        lexical = folder / LEXICAL_DIR
        self.lexical = open_part(folder, lexical, lambda: LexicalIndex(lexical))
        self.vectors = _load_vectors(folder)
        # None for a generation written before tables existed: similar articles then
        # rank without the re-ranking until the next write (computing the table on a
        # request would take minutes at 100k articles).
        self.neighbours = open_part(
            folder, folder / NEIGHBOURS_FILE, lambda: NeighbourTable.load(folder)
        )
        self._check_agreement()

    def _check_agreement(self) -> None:
        """Both sides hold the same articles in vectors of the manifest's dimension."""
        folder = self.folder
        stored = self.vectors._index.d  # what the FAISS file really holds
        if not self.manifest.dim == self.vectors.dim == stored:
            raise IndexDamaged(
                f"{folder / MANIFEST_FILE}: dimension {self.manifest.dim}, but "
                f"{KEYS_FILE} says {self.vectors.dim} and {VECTORS_FILE} holds {stored}"
            )
        lexical = open_part(
            folder, folder / LEXICAL_DIR, lambda: set(self.lexical.columns().docnum_of)
        )
        semantic = self.vectors.ids()
        for only, there, missing in (
            (lexical - semantic, LEXICAL_DIR, KEYS_FILE),
            (semantic - lexical, KEYS_FILE, LEXICAL_DIR),
        ):
            if only:
                raise IndexDamaged(
                    f"{folder / missing}: lacks {len(only)} article(s) that {there} holds, "
                    f"e.g. {min(only)!r}"
                )


def _load_vectors(folder: Path) -> VectorIndex:
    """The vector index; a failure names the file it came from (FAISS raises RuntimeError)."""
    try:
        return VectorIndex.load(folder)
    except Exception as exc:
        part = VECTORS_FILE if isinstance(exc, RuntimeError) else KEYS_FILE
        raise damage(folder, folder / part, exc) from exc


def build_generation(
    folder: IndexFolder,
    sources: Sequence[str | Path],
    embedder: Embedder,
    settings: PassageSettings | None = None,
    progress: Progress | None = None,
    report: ReadReport | None = None,
    mapping: Mapping[str, str] | None = None,
    wait: float = 0.0,
) -> BuildReport:
    """Build a new generation from ``sources`` and switch ``folder`` to it.

    The live generation is untouched until the switch, so a failed or killed
    rebuild leaves the index exactly as it was. ``report`` (when given) hears
    about every file and record as it is read, for progress and the summary.
    ``wait`` is how long to wait for another writer's lock.
    """
    expand_sources(sources)  # a bad path fails here, before the lock is taken
    settings = settings or PassageSettings()
    report = report if report is not None else ReadReport()
    with folder.writer_lock(wait):
        target = folder.new_generation()
        try:
            lexical = LexicalIndex.create(target / LEXICAL_DIR)
            vectors = VectorIndex(embedder.dim)
            stories = Stories()
            articles = stories.grouped(read_articles(sources, report, mapping), report.copy_found)
            with lexical.writer(fresh=True, passages=settings) as writer:
                stats = index_articles(
                    articles,
                    writer,
                    vectors,
                    embedder,
                    settings,
                    progress,
                )
                if stats.articles == 0:
                    raise InputError(
                        "no valid article in the sources; index left unchanged:"
                        + "".join(f"\n  {e}" for e in [*report.errors, *report.skipped_files][:20])
                    )
            lexical.close()
            vectors.optimize()  # the exact scan or an HNSW graph, whichever the size calls for
            vectors.save(target)
            NeighbourTable.build(vectors).save(target)
            stories.save(target)
            Manifest(
                model=embedder.name,
                dim=embedder.dim,
                generation=target.name,
                passages=settings,
                articles=stats.articles,
                passage_count=vectors.passage_count,
                checksummed=True,
            ).save(target)
            write_checksums(target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        folder.switch_to(target)
        folder.remove_stale()
    return BuildReport(target.name, stats, report.errors, read=report)


def derive_generation(
    folder: IndexFolder,
    source: Generation,
    upserts: Staged,
    deletes: Sequence[str],
    stories: Stories,
    regroup: bool = False,
) -> tuple[Path | None, BuildReport]:
    """Build the generation ``source`` becomes after the write (None: nothing changes).

    The upserts come embedded already (``search.ingest.staging``), so the caller
    holds the writer lock only while this builds the copy; it then switches to it.
    ``stories`` are those of ``source``; the upserts were grouped by them already
    unless ``regroup`` says another write landed since they were.
    """
    stats = IndexingStats()
    started = time.perf_counter()
    existing = [i for i in dict.fromkeys(deletes) if source.lexical.has(i)]
    report = BuildReport(source.name, stats, deleted=len(existing))
    if not len(upserts) and not existing:
        return None, report
    target = folder.new_generation(base=source.folder)
    try:
        lexical = LexicalIndex(target / LEXICAL_DIR)
        vectors = VectorIndex.load(source.folder)
        for article_id in existing:
            vectors.remove(article_id)
            stories.remove(article_id)
        with lexical.writer(passages=source.manifest.passages) as writer:
            for article_id in existing:
                writer.delete(article_id)
            for staged_article, matrix in upserts:
                article = staged_article
                if regroup:
                    article = replace(article, story=stories.story_for(article))
                writer.upsert(article)
                vectors.add(article.id, matrix)
                stats.articles += 1
                stats.passages += len(matrix)
        vectors.optimize()  # past the size for a graph, or a graph too full of dead entries
        vectors.save(target)
        previous = NeighbourTable.load(source.folder)
        neighbours = (
            previous.updated(vectors, upserts.ids) if previous else NeighbourTable.build(vectors)
        )
        neighbours.save(target)
        stories.save(target)
        manifest = replace(
            source.manifest,
            generation=target.name,
            articles=lexical.count(),
            passage_count=vectors.passage_count,
            checksummed=True,
        )
        manifest.save(target)
        lexical.close()
        write_checksums(target, base=source.folder)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    stats.seconds = time.perf_counter() - started
    report.generation = target.name
    return target, report
