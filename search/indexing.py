"""Feeding articles into both sides of an index at once.

Embedding is the slow part and spends most of its time in BLAS, which releases the
GIL; the Whoosh writer runs in a second thread meanwhile, so on two cores lexical
indexing hides behind embedding instead of adding to it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from search.articles import Article
from search.embeddings import Embedder
from search.lexical import LexicalWriter
from search.passages import PassageSettings, split_passages
from search.vectors import VectorIndex

BATCH_ARTICLES = 64

Progress = Callable[[int], None]


@dataclass
class IndexingStats:
    """What one indexing run wrote and how long it took."""

    articles: int = 0
    passages: int = 0
    chars: int = 0
    seconds: float = 0.0


def batches(articles: Iterable[Article], size: int) -> Iterator[list[Article]]:
    iterator = iter(articles)
    while batch := list(islice(iterator, size)):
        yield batch


def embed_articles(
    articles: list[Article], embedder: Embedder, settings: PassageSettings
) -> list[np.ndarray]:
    """Passage vectors of each article, embedded as one batch (much faster than one by one)."""
    texts: list[str] = []
    bounds: list[tuple[int, int]] = []
    for article in articles:
        passages = split_passages(article, settings)
        bounds.append((len(texts), len(texts) + len(passages)))
        texts.extend(passages)
    matrix = embedder.encode(texts)
    return [matrix[start:end] for start, end in bounds]


def index_articles(
    articles: Iterable[Article],
    writer: LexicalWriter,
    vectors: VectorIndex,
    embedder: Embedder,
    settings: PassageSettings,
    progress: Progress | None = None,
) -> IndexingStats:
    """Write every article to the lexical writer and its passage vectors to ``vectors``."""
    stats = IndexingStats()
    started = time.perf_counter()
    pending: queue.Queue[list[Article] | None] = queue.Queue(maxsize=8)
    failure: list[BaseException] = []

    def write_lexical() -> None:
        while (batch := pending.get()) is not None:
            if failure:
                continue  # drain so the producer never blocks on a dead consumer
            try:
                for article in batch:
                    writer.upsert(article)
            except BaseException as exc:
                failure.append(exc)

    thread = threading.Thread(target=write_lexical, name="lexical-writer", daemon=True)
    thread.start()
    try:
        for batch in batches(articles, BATCH_ARTICLES):
            if failure:
                break
            pending.put(batch)
            for article, matrix in zip(
                batch, embed_articles(batch, embedder, settings), strict=True
            ):
                vectors.add(article.id, matrix)
                stats.passages += len(matrix)
            stats.articles += len(batch)
            stats.chars += sum(len(a.title) + len(a.lead) + len(a.body) for a in batch)
            if progress is not None:
                progress(len(batch))
    finally:
        pending.put(None)
        thread.join()
    if failure:
        raise failure[0]
    stats.seconds = time.perf_counter() - started
    return stats
