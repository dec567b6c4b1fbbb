"""Articles embedded ahead of a write, spilled to disk so memory stays bounded.

``add``, ``add -`` and the API's writes embed before they take the writer lock
(embedding is the slow part, and other writers should not wait behind it): the
articles and their passage vectors go batch by batch into a staging folder beside
the index, and the locked part of the write reads them back in the same order.
A staging folder left by a killed writer is removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path

import numpy as np

from search.ingest.article import Article
from search.ingest.indexing import BATCH_ARTICLES, Progress, batches, embedded_batches
from search.ingest.passages import PassageSettings
from search.semantic.embedders import Embedder

STAGING_PREFIX = ".staging-"


class Staged:
    """Embedded articles on disk, read back in the order they were staged."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.ids: list[str] = []

    def append(self, batch: list[Article], matrices: list[np.ndarray]) -> None:
        with (
            (self.folder / "articles.jsonl").open("a", encoding="utf-8") as articles,
            (self.folder / "vectors.npy").open("ab") as vectors,
        ):
            for article, matrix in zip(batch, matrices, strict=True):
                articles.write(json.dumps(article.to_dict()) + "\n")
                np.save(vectors, matrix, allow_pickle=False)
                self.ids.append(article.id)
        self.count += len(batch)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[Article, np.ndarray]]:
        if not self.count:
            return
        with (
            (self.folder / "articles.jsonl").open(encoding="utf-8") as articles,
            (self.folder / "vectors.npy").open("rb") as vectors,
        ):
            for line in articles:
                yield Article(**json.loads(line)), np.load(vectors, allow_pickle=False)


@contextlib.contextmanager
def staged(
    index: Path,
    articles: Iterable[Article],
    embedder: Callable[[], Embedder],
    settings: PassageSettings,
    progress: Progress | None = None,
) -> Iterator[Staged]:
    """Embed ``articles`` (worker processes for big batches) into a staging folder.

    ``embedder`` is called only when there is an article: a delete loads no model.
    """
    index.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(index)
    folder = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=index))
    try:
        result = Staged(folder)
        chunks = batches(articles, BATCH_ARTICLES)
        first = next(chunks, None)
        if first is not None:
            embedded = embedded_batches(chain([first], chunks), embedder(), settings, _ignore)
            for batch, matrices in embedded:
                result.append(batch, matrices)
                if progress is not None:
                    progress(len(batch))
        yield result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ignore(_batch: list[Article]) -> None:
    """Nothing reads the batches while they embed: the lexical side waits for the lock."""


def _remove_abandoned(index: Path) -> None:
    """Remove staging folders whose writer process is gone (killed mid-embedding)."""
    for folder in index.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
