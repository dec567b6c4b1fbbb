"""Feeding articles into both sides of an index at once.

Embedding is the slow part (about 90% of a rebuild's CPU time), so it gets every
core: the packaged model's tokenizer is pure Python and its forward pass runs small
BLAS calls, so one process with two BLAS threads leaves a core idle for a fifth of
the time and spins the other; one single-threaded model per core in worker
processes embeds about 1.4 times as fast (see docs/benchmarks.md). The Whoosh writer
runs in a thread of the main process meanwhile, which otherwise only waits.

Small writes stay in-process: the workers start only once ``PARALLEL_AFTER``
articles have been embedded, so a handful of articles never pays their start-up.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice

import numpy as np

from search.ingest.article import Article
from search.ingest.passages import PassageSettings, split_passages
from search.semantic.embedders import Embedder, UniversalSentenceEncoder

BATCH_ARTICLES = 64
PARALLEL_AFTER = 128
# Batches queued per worker: enough that a worker never waits for the next one.
IN_FLIGHT_PER_WORKER = 2
ORPHAN_CHECK_SECONDS = 1.0

Progress = Callable[[int], None]
# The embedding step: batches of articles in, each with its passage vectors out, in
# input order; ``on_read`` sees each batch first. ``embedded_batches`` here, or a
# cluster's (``search.cluster.embedding.ClusterEmbedding``).
BatchEmbedding = Callable[
    [Iterable[list[Article]], Embedder, PassageSettings, Callable[[list[Article]], None]],
    Iterator[tuple[list[Article], list[np.ndarray]]],
]


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


def embedded_batches(
    batches: Iterable[list[Article]],
    embedder: Embedder,
    settings: PassageSettings,
    on_read: Callable[[list[Article]], None],
    parallel_after: int = PARALLEL_AFTER,
    workers: int | None = None,
) -> Iterator[tuple[list[Article], list[np.ndarray]]]:
    """Yield each batch with its passage vectors, in input order.

    ``on_read`` sees every batch as soon as it is read, before it is embedded, so
    the lexical side works on it while the embedder does.
    """
    workers = workers or len(os.sched_getaffinity(0))
    # Only the packaged model is re-created in workers; any other embedder (a
    # sentence-transformers model threads by itself) stays in this process.
    parallel = workers > 1 and isinstance(embedder, UniversalSentenceEncoder)
    iterator = iter(batches)
    done = 0
    while not parallel or done < parallel_after:
        batch = next(iterator, None)
        if batch is None:
            return
        on_read(batch)
        yield batch, embed_articles(batch, embedder, settings)
        done += len(batch)
    # spawn, not fork: the lexical writer thread is running in this process.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    ) as pool:
        in_flight: deque[tuple[list[Article], Future[list[np.ndarray]]]] = deque()
        try:
            for batch in iterator:
                on_read(batch)
                in_flight.append((batch, pool.submit(_embed_in_worker, batch, settings)))
                if len(in_flight) >= workers * IN_FLIGHT_PER_WORKER:
                    done_batch, future = in_flight.popleft()
                    yield done_batch, future.result()
            while in_flight:
                done_batch, future = in_flight.popleft()
                yield done_batch, future.result()
        finally:
            for _batch, future in in_flight:
                future.cancel()


_worker_embedder: Embedder | None = None


def _start_worker(parent: int) -> None:
    """Load the model once per worker, with one BLAS thread: the workers share the cores."""
    global _worker_embedder
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _worker_embedder = UniversalSentenceEncoder(threads=1)


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone (a SIGKILLed rebuild cannot tell it to)."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(1)


def _embed_in_worker(batch: list[Article], settings: PassageSettings) -> list[np.ndarray]:
    assert _worker_embedder is not None, "worker started without its model"
    return embed_articles(batch, _worker_embedder, settings)


def index_articles(
    articles: Iterable[Article],
    write_lexical: Callable[[Article], None],
    add_vectors: Callable[[Article, np.ndarray], None],
    embedder: Embedder,
    settings: PassageSettings,
    progress: Progress | None = None,
    parallel_after: int = PARALLEL_AFTER,
    workers: int | None = None,
    embed: BatchEmbedding | None = None,
) -> IndexingStats:
    """Write every article with ``write_lexical`` and its passage vectors with
    ``add_vectors`` (the lexical side in a thread of its own, beside the embedding).

    ``workers`` embedding processes (default: one per core) take over after
    ``parallel_after`` articles, when the embedder can be re-created in them;
    ``embed`` (a cluster's) replaces that local embedding.
    """
    stats = IndexingStats()
    started = time.perf_counter()
    pending: queue.Queue[list[Article] | None] = queue.Queue(maxsize=8)
    failure: list[BaseException] = []

    def lexical_side() -> None:
        while (batch := pending.get()) is not None:
            if failure:
                continue  # drain so the producer never blocks on a dead consumer
            try:
                for article in batch:
                    write_lexical(article)
            except BaseException as exc:
                failure.append(exc)

    thread = threading.Thread(target=lexical_side, name="lexical-writer", daemon=True)
    thread.start()
    chunks = batches(articles, BATCH_ARTICLES)
    embedded = (
        embed(chunks, embedder, settings, pending.put)
        if embed is not None
        else embedded_batches(chunks, embedder, settings, pending.put, parallel_after, workers)
    )
    try:
        for batch, matrices in embedded:
            if failure:
                break
            for article, matrix in zip(batch, matrices, strict=True):
                add_vectors(article, matrix)
                stats.passages += len(matrix)
            stats.articles += len(batch)
            stats.chars += sum(len(a.title) + len(a.lead) + len(a.body) for a in batch)
            if progress is not None:
                progress(len(batch))
    finally:
        embedded.close()
        pending.put(None)
        thread.join()
    if failure:
        raise failure[0]
    stats.seconds = time.perf_counter() - started
    return stats
