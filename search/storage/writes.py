"""One write: embed the upserts without the writer lock, then derive a generation
and switch to it under the lock.

Embedding is most of a write's time, so it happens first, staged on disk inside the
index folder (memory stays bounded); the lock is held only to build the copy of the
live generation and switch ``CURRENT`` to it. A crash at any point leaves the
previous generation live and whole (``docs/operations.md``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from search.errors import InputError
from search.ingest.article import Article
from search.ingest.indexing import Progress
from search.ingest.readers import ReadReport
from search.ingest.staging import staged
from search.semantic.embedders import Embedder
from search.storage.folder import IndexFolder, storage_errors
from search.storage.generations import BuildReport, Generation, derive_generation


def write_generation(
    folder: IndexFolder,
    current_generation: Callable[[], Generation],
    follow_switch: Callable[[], None],
    upserts: Iterable[Article],
    deletes: Sequence[str],
    embedder: Callable[[], Embedder],
    progress: Progress | None,
    read: ReadReport | None,
    wait: float,
) -> BuildReport:
    """Upsert and delete articles as one new generation of ``folder``.

    ``current_generation`` opens the live generation, ``follow_switch`` tells the
    reader of ``folder`` to move to the new one; ``wait`` is how long to wait for
    another writer's lock.
    """
    started = time.perf_counter()
    current = current_generation()
    settings, base = current.manifest.passages, current.name
    stories = current.stories()  # agency copies are grouped as they are read
    del current  # no lease on it while embedding: a rebuild may replace it meanwhile
    grouped = stories.grouped(upserts, read.copy_found if read is not None else None)
    # Entering ``staged`` embeds everything; only then is the lock taken. A full
    # disk while staging is the same one-line error as one while writing.
    with (
        storage_errors(folder.path),
        staged(folder.path, grouped, embedder, settings, progress) as batch,
        folder.writer_lock(wait),
    ):
        locked = time.perf_counter()
        live = current_generation()
        if live.manifest.passages != settings:
            raise InputError(
                "the index was rebuilt with other passage settings while this write "
                "embedded its articles; run the write again"
            )
        regroup = live.name != base  # another write landed meanwhile
        if regroup:
            stories = live.stories()
        target, report = derive_generation(folder, live, batch, deletes, stories, regroup)
        del live  # its lease would keep the old generation from the cleanup below
        if read is not None:
            report.rejected, report.read = read.errors, read
        report.stats.seconds = time.perf_counter() - started
        if target is None:
            return report
        folder.switch_to(target)
        # Let go of the old generation now, so the cleanup below can take it.
        follow_switch()
        folder.remove_stale()
        report.locked = time.perf_counter() - locked
    return report
