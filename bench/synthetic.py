"""A large index with real text and reused vectors, for query latency and memory at scale.

Embedding 100k articles takes over an hour on two cores; what a query costs at that
size does not depend on where the vectors came from, only on how many there are and
how they are spread. So this builds the real lexical side over the real generated
articles, through the engine's own rebuild, but takes each passage vector from the
real passage vectors of an index built earlier (picked by a hash of the passage
text, plus a little noise so no two are identical). Numbers measured on it are
labelled "synthetic vectors": its rebuild time says nothing about embedding, and
its semantic rankings mean nothing; its latencies and memory do. Its recall does
not: each real vector appears about N/10k times with tiny noise, and such clusters
of near-duplicates are the hardest case for a graph index.
"""

from __future__ import annotations

import shutil
import time
import zlib
from pathlib import Path

import numpy as np

from bench.measure import Result, folder_mb
from search.engine import Engine
from search.semantic.embedders import DEFAULT_MODEL
from search.storage.shards import DEFAULT_SHARD_BY, ShardBy

NOISE = 0.01


class ReplayEmbedder:
    """Hands out real passage vectors of another index instead of embedding.

    Named like the packaged model so the index opens with it and queries are
    embedded for real.
    """

    name = DEFAULT_MODEL

    def __init__(self, pool: np.ndarray, seed: int = 0) -> None:
        self.dim = pool.shape[1]
        self._pool = pool
        self._rng = np.random.default_rng(seed)

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [zlib.crc32(text.encode("utf-8")) % len(self._pool) for text in texts]
        vectors = self._pool[rows] + self._rng.normal(0, NOISE, (len(rows), self.dim))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.astype(np.float32)


def vector_pool(index: Path) -> np.ndarray:
    """Every passage vector of the live generation of ``index`` (exactly as embedded
    where its shards are exact, as the yearly shards of a 10k archive are)."""
    vectors = Engine(index)._current().vectors
    return np.vstack([vectors.vectors_of(article_id) for article_id in sorted(vectors.ids())])


def build_synthetic(
    source: Path, vectors_from: Path, index: Path, shard_by: ShardBy = DEFAULT_SHARD_BY
) -> Result:
    """Rebuild ``index`` from ``source`` with vectors replayed from ``vectors_from``."""
    shutil.rmtree(index, ignore_errors=True)
    pool = vector_pool(vectors_from)
    started = time.perf_counter()
    engine, report = Engine.rebuild(
        [source], index, embedder=ReplayEmbedder(pool), shard_by=shard_by
    )
    shards = engine._current().vectors.shards
    return {
        "articles": report.stats.articles,
        "passages": report.stats.passages,
        "pool_passages": len(pool),
        "seconds": round(time.perf_counter() - started, 1),
        "vector_index": "exact" if all(s.exact for s in shards) else "hnsw-sq8",
        "shards": len(shards),
        "index_mb": folder_mb(index),
    }
