"""Index generations: opening one, building one from sources, deriving one by a write.

A generation is a folder holding its shards (each both sides of the index, Whoosh
and FAISS, with its rows of the neighbour table and its stories) and the manifest;
``search.storage.folder`` lays them out and switches between them. Published
generations never change: a rebuild builds a new one beside the live one, and a
write derives a new one from a copy of the live one. Either is removed again if
anything fails before the switch, so the live index is never half-written
(docs/operations.md).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from whoosh.util.times import long_to_datetime

from search.errors import IndexDamaged, InputError
from search.ingest.article import Article, RecordError
from search.ingest.duplicates import STORIES_FILE, Stories
from search.ingest.indexing import BatchEmbedding, IndexingStats, Progress, index_articles
from search.ingest.passages import PassageSettings
from search.ingest.readers import ReadReport, expand_sources, read_articles
from search.ingest.staging import Staged
from search.lexical.index import LexicalIndex
from search.semantic.embedders import Embedder
from search.semantic.neighbours import NEIGHBOURS_FILE, NeighbourTable
from search.semantic.sharded import ShardedVectors
from search.semantic.vectors import KEYS_FILE, VECTORS_FILE, VectorIndex
from search.storage.folder import LEXICAL_DIR, IndexFolder, Lease
from search.storage.integrity import (
    CHECKSUMS_FILE,
    check_sizes,
    damage,
    open_part,
    write_checksums,
)
from search.storage.manifest import MANIFEST_FILE, SCHEMA_VERSION, Manifest
from search.storage.shards import (
    DEFAULT_SHARD_BY,
    SHARDS_DIR,
    ShardBy,
    ShardRef,
    ShardWrites,
    shard_by,
)


class ShardSink(Protocol):
    """Where a rebuild's articles go: ``ShardWrites`` here, or a cluster's
    (``search.cluster.building``); ``finish`` returns each shard's saved vectors."""

    def __enter__(self) -> ShardSink: ...
    def __exit__(self, *exc: object) -> None: ...
    def upsert(self, article: Article) -> None: ...
    def add_vectors(self, article: Article, matrix: np.ndarray) -> None: ...
    def finish(self) -> Mapping[str, VectorIndex]: ...
    def shards(self) -> list[ShardRef]: ...


# A rebuild's shard sink for a generation folder, its sharding, dimension and passages.
ShardSinks = Callable[[Path, ShardBy, int, PassageSettings], ShardSink]
# A rebuild's reading: ``read_articles`` here, or a cluster's (``search.cluster.reading``).
SourceReading = Callable[
    [Sequence[str | Path], ReadReport, Mapping[str, str] | None], Iterator[Article]
]


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
    """One opened generation: its manifest, shards and neighbour table, held by a lease.

    The shards read as one archive: ``lexical`` over every shard's Whoosh index,
    ``vectors`` over every shard's vectors, documents numbered shard after shard
    (``shard_starts``). A published generation never changes, so this is never
    reloaded; the lease keeps its folder on disk for as long as any request still
    holds this object.
    """

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.folder = folder = lease.path
        self.name = lease.name
        self.manifest = Manifest.load(folder)  # first: an old schema asks for a rebuild
        check_sizes(folder)  # a truncated or missing file, named, before anything reads it
        if self.manifest.checksummed and not (folder / CHECKSUMS_FILE).is_file():
            raise IndexDamaged(f"{folder / CHECKSUMS_FILE}: missing")
        self.shards = self.manifest.shards
        paths = [folder / shard.path for shard in self.shards]
        lexical = [path / LEXICAL_DIR for path in paths]
        self.lexical = open_part(folder, lexical[0], lambda: LexicalIndex(lexical, published=True))
        self.vectors = ShardedVectors([_load_vectors(folder, path) for path in paths])
        self.shard_starts = self.lexical.shard_starts()
        self._neighbours_lock = threading.Lock()
        self._neighbours: tuple[NeighbourTable | None] | None = None  # not read yet
        self._check_agreement(paths)

    @property
    def neighbours(self) -> NeighbourTable | None:
        """Each article's nearest articles, read on first use (as Elasticsearch builds
        global ordinals on the first aggregation): a server that is never asked for
        similar articles never holds them (37 MB at 100k articles), and a search
        after a write does not wait for them. None for a generation written before
        tables existed: similar articles then rank without the re-ranking until the
        next write (computing the table on a request would take minutes at 100k)."""
        with self._neighbours_lock:
            if self._neighbours is None:
                self._neighbours = (self._read_neighbours(),)
            return self._neighbours[0]

    def _read_neighbours(self) -> NeighbourTable | None:
        folder = self.folder
        if self.manifest.shard_files:
            paths = [folder / shard.path for shard in self.shards]
            return open_part(folder, paths[0] / NEIGHBOURS_FILE, lambda: NeighbourTable.load(paths))
        # one table for the archive (schema 4)
        return open_part(
            folder, folder / NEIGHBOURS_FILE, lambda: NeighbourTable.load_archive(folder)
        )

    def stories(self) -> Stories:
        """Every article's story and signature, to group a write's articles with."""
        if self.manifest.shard_files:
            return Stories.load(*(self.folder / shard.path for shard in self.shards))
        return Stories.load(self.folder)  # one file for the archive (schema 4)

    def _check_agreement(self, paths: list[Path]) -> None:
        """Both sides of every shard hold the same articles, in vectors of the
        manifest's dimension."""
        folder = self.folder
        for path, shard in zip(paths, self.vectors.shards, strict=True):
            stored = shard._index.d  # what the FAISS file really holds
            if not self.manifest.dim == shard.dim == stored:
                raise IndexDamaged(
                    f"{folder / MANIFEST_FILE}: dimension {self.manifest.dim}, but "
                    f"{path / KEYS_FILE} says {shard.dim} and {path / VECTORS_FILE} "
                    f"holds {stored}"
                )
        columns = open_part(folder, paths[0] / LEXICAL_DIR, self.lexical.columns)
        for i, (path, shard) in enumerate(zip(paths, self.vectors.shards, strict=True)):
            start, end = self.shard_starts[i], self.shard_starts[i + 1]
            lexical = {columns.ids[d] for d in range(start, end) if columns.live[d]}
            semantic = shard.ids()
            for only, there, missing in (
                (lexical - semantic, LEXICAL_DIR, KEYS_FILE),
                (semantic - lexical, KEYS_FILE, LEXICAL_DIR),
            ):
                if only:
                    raise IndexDamaged(
                        f"{path / missing}: lacks {len(only)} article(s) that {there} "
                        f"holds, e.g. {min(only)!r}"
                    )

    def shard_docs(self, index: int) -> slice:
        """The document numbers of shard ``index``."""
        return slice(int(self.shard_starts[index]), int(self.shard_starts[index + 1]))

    def shard_stats(self) -> list[dict[str, Any]]:
        """Each shard: name, article and passage counts, date range and bytes on disk."""
        columns = self.lexical.columns()
        out = []
        for i, (ref, vectors) in enumerate(zip(self.shards, self.vectors.shards, strict=True)):
            docs = self.shard_docs(i)
            live = columns.live[docs]
            dates = columns.date_key[docs][live]
            dates = dates[dates >= 0]
            out.append(
                {
                    "name": ref.name,
                    "articles": int(live.sum()),
                    "passages": vectors.passage_count,
                    "first_date": _day(int(dates.min())) if len(dates) else None,
                    "last_date": _day(int(dates.max())) if len(dates) else None,
                    "bytes": _bytes(self.folder / ref.path),
                    "vectors": "exact" if vectors.exact else "hnsw-sq8",
                }
            )
        return out


def _day(key: int) -> str:
    """A date column value (Whoosh's microseconds) as an ISO day."""
    return long_to_datetime(key).date().isoformat()


def _bytes(folder: Path) -> int:
    """Bytes of a shard's files (of the generation's own files, for an unsharded one)."""
    if folder.parent.name == SHARDS_DIR:
        parts = [folder]
    else:  # the one shard of an unsharded (schema 3) generation, in its folder
        parts = [folder / LEXICAL_DIR, folder / VECTORS_FILE, folder / KEYS_FILE]
        parts += [folder / NEIGHBOURS_FILE, folder / STORIES_FILE]
    total = 0
    for part in parts:
        files = [part] if part.is_file() else [p for p in part.rglob("*") if p.is_file()]
        total += sum(f.stat().st_size for f in files)
    return total


def _load_vectors(generation: Path, folder: Path) -> VectorIndex:
    """A shard's vector index, mapped read-only; a failure names the file it came from
    (FAISS raises RuntimeError)."""
    try:
        return VectorIndex.load(folder, mapped=True)
    except Exception as exc:
        part = VECTORS_FILE if isinstance(exc, RuntimeError) else KEYS_FILE
        raise damage(generation, folder / part, exc) from exc


def build_generation(
    folder: IndexFolder,
    sources: Sequence[str | Path],
    embedder: Embedder,
    settings: PassageSettings | None = None,
    progress: Progress | None = None,
    report: ReadReport | None = None,
    mapping: Mapping[str, str] | None = None,
    wait: float = 0.0,
    by: ShardBy = DEFAULT_SHARD_BY,
    embed: BatchEmbedding | None = None,
    shard_sinks: ShardSinks | None = None,
    read_sources: SourceReading = read_articles,
) -> BuildReport:
    """Build a new generation from ``sources``, in shards ``by`` date, and switch
    ``folder`` to it.

    The live generation is untouched until the switch, so a failed or killed
    rebuild leaves the index exactly as it was. ``report`` (when given) hears
    about every file and record as it is read, for progress and the summary.
    ``wait`` is how long to wait for another writer's lock. ``embed`` embeds
    elsewhere (a Ray cluster) instead of in this machine's processes, and
    ``shard_sinks`` builds the shards elsewhere instead of with ``ShardWrites`` here;
    ``read_sources`` reads the sources elsewhere (its articles in the order and
    with the report ``read_articles`` gives).
    """
    expand_sources(sources)  # a bad path fails here, before the lock is taken
    settings = settings or PassageSettings()
    report = report if report is not None else ReadReport()
    with folder.writer_lock(wait):
        target = folder.new_generation()
        try:
            stories = Stories()
            articles = stories.grouped(read_sources(sources, report, mapping), report.copy_found)
            sinks: ShardSinks = shard_sinks or ShardWrites
            with sinks(target, by, embedder.dim, settings) as shards:
                stats = index_articles(
                    articles,
                    shards.upsert,
                    shards.add_vectors,
                    embedder,
                    settings,
                    progress,
                    embed=embed,
                )
                if stats.articles == 0:
                    raise InputError(
                        "no valid article in the sources; index left unchanged:"
                        + "".join(f"\n  {e}" for e in [*report.errors, *report.skipped_files][:20])
                    )
                built = shards.finish()
            neighbours = NeighbourTable.build(ShardedVectors(list(built.values())))
            _save_shard_files(target, shards.shards(), built, neighbours, stories)
            Manifest(
                model=embedder.name,
                dim=embedder.dim,
                generation=target.name,
                passages=settings,
                articles=stats.articles,
                passage_count=sum(v.passage_count for v in built.values()),
                shard_by=by,
                shards=shards.shards(),
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

    Only the shards the write touches get new files: the others stay hard links of
    ``source``'s. An article whose date moved it to another shard leaves its old
    shard in the same write. The upserts come embedded already
    (``search.ingest.staging``), so the caller holds the writer lock only while this
    builds the copy; it then switches to it. ``stories`` are those of ``source``;
    the upserts were grouped by them already unless ``regroup`` says another write
    landed since they were.
    """
    stats = IndexingStats()
    started = time.perf_counter()
    vectors = source.vectors
    existing = [i for i in dict.fromkeys(deletes) if i in vectors]
    report = BuildReport(source.name, stats, deleted=len(existing))
    if not len(upserts) and not existing:
        return None, report
    manifest = source.manifest
    target = folder.new_generation(base=source.folder)
    by = shard_by(manifest.shard_by)
    try:
        with ShardWrites(
            target, by, manifest.dim, manifest.passages, source.folder, manifest.shards
        ) as shards:
            for article_id in existing:
                shards.delete(article_id, source.shards[vectors.shard_of(article_id)].name)
                stories.remove(article_id)
            for staged_article, matrix in upserts:
                article = staged_article
                if regroup:
                    article = replace(article, story=stories.story_for(article))
                held = (
                    source.shards[vectors.shard_of(article.id)].name
                    if article.id in vectors
                    else None
                )
                if held is not None and held != shards.shard_for(article):
                    shards.delete(article.id, held)  # its date moved it to another shard
                shards.upsert(article)
                shards.add_vectors(article, matrix)
                stats.articles += 1
                stats.passages += len(matrix)
            changed = shards.finish()
        refs = shards.shards()
        shard_vectors = {
            ref.name: changed.get(ref.name) or _shard_vectors(source, ref) for ref in refs
        }
        merged = ShardedVectors(list(shard_vectors.values()))
        previous = source.neighbours
        neighbours = (
            previous.updated(merged, upserts.ids) if previous else NeighbourTable.build(merged)
        )
        if not manifest.shard_files:  # the archive-wide files of schema 4 go
            for name in (NEIGHBOURS_FILE, STORIES_FILE):
                (target / name).unlink(missing_ok=True)
        # Every shard's rows are new after a full recompute, and the first write to a
        # schema 4 generation stores every shard's rows and stories in its folder.
        whole = neighbours.recomputed or not manifest.shard_files
        _save_shard_files(target, refs, shard_vectors if whole else changed, neighbours, stories)
        replace(
            manifest,
            schema_version=SCHEMA_VERSION,
            generation=target.name,
            articles=len(merged),
            passage_count=merged.passage_count,
            shards=refs,
            checksummed=True,
        ).save(target)
        write_checksums(target, base=source.folder)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    stats.seconds = time.perf_counter() - started
    report.generation = target.name
    return target, report


def _save_shard_files(
    target: Path,
    refs: Sequence[ShardRef],
    shards: Mapping[str, VectorIndex],
    neighbours: NeighbourTable,
    stories: Stories,
) -> None:
    """Write the neighbour rows and the stories of the articles of ``shards`` (by
    name) into their folders in ``target``; other shards keep their files."""
    for ref in refs:
        if ref.name in shards:
            ids = sorted(shards[ref.name].ids())
            neighbours.save(target / ref.path, ids)
            stories.save(target / ref.path, ids)


def _shard_vectors(generation: Generation, ref: ShardRef) -> VectorIndex:
    """The vectors of an unchanged shard of ``generation``."""
    return generation.vectors.shards[generation.shards.index(ref)]
