"""The semantic side: passage vectors in FAISS, mapped back to articles.

Each article gets an integer key; its passage ``n`` is stored under the FAISS id
``key << PASSAGE_BITS | n``, so an article's passages can be found, removed and
rebuilt from the key alone, and a passage hit names its article without a lookup
table per passage.

Small indexes are exact (a flat scan). A flat scan reads every vector per query,
which costs tens of milliseconds from about 40k passages on (and hundreds at
100k articles), so ``optimize`` moves a larger index to an HNSW graph, which visits
a few thousand vectors per query, over vectors stored as one byte per dimension
(FAISS's 8-bit scalar quantizer): a quarter of float32's memory, which is what
let a 100k archive serve in under 1 GB, at recall@10 measured in
docs/benchmarks.md. An IVF was measured too and lost: on these
vectors it needed to scan 6% of them for recall@10 0.97, which grows with the
archive, where HNSW gives 0.98 in about 2 ms at 100k articles (docs/benchmarks.md).

HNSW cannot remove vectors, so a removed article's passages stay in the graph as
dead entries that search skips (their keys are never reused), and ``optimize``
rebuilds the graph once they are a fifth of it.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

PASSAGE_BITS = 10
VECTORS_FILE = "vectors.faiss"
KEYS_FILE = "vectors.json"
EXACT_MAX_PASSAGES = 40_000
# Graph degree and search breadths, tuned on real passage vectors for recall@10
# >= 0.98 against exact search at 100k articles (680k passages: docs/benchmarks.md).
# Built with efConstruction 40 the graph gave 0.937 there at efSearch 400 and 0.976
# at 1,600; 120 takes 144 s instead of 46 s to build and gives 0.983 at 400 and
# 0.991 at 800, in 2 ms (``python -m bench.hnsw``).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 120
HNSW_EF_SEARCH = 800
# A smaller graph reaches the same recall with a narrower search: a yearly shard of a
# 100k archive (69k passages) gives recall@10 0.993 at 200 (0.997 at 800) in a third
# of the time, so the breadth grows with the graph, from 200 to 800 at 680k passages.
HNSW_EF_SEARCH_MIN = 200
PASSAGES_PER_EF = 850
COMPACT_DEAD_SHARE = 0.2
# Centroids kept for reuse, least recently used out: 2 KB each, so 40 MB at most,
# where caching every article would hold 200 MB more at 100k articles.
CACHED_CENTROIDS = 20_000


@dataclass(frozen=True)
class SemanticHit:
    """An article's best passage for a query: its cosine score and position."""

    article_id: str
    score: float
    passage: int


class VectorIndex:
    """Passage vectors of every article in one exact inner-product FAISS index."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._next_key = 0
        self._key_of: dict[str, int] = {}
        self._article_of: dict[int, str] = {}
        self._passages: dict[int, int] = {}
        self._centroids: OrderedDict[str, np.ndarray] = OrderedDict()
        self._centroids_lock = threading.Lock()  # request threads share the cache

    def __len__(self) -> int:
        return len(self._key_of)

    @property
    def passage_count(self) -> int:
        """Passages of stored articles (a graph also holds dead ones until compacted)."""
        return sum(self._passages.values())

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._key_of

    def ids(self) -> set[str]:
        return set(self._key_of)

    @property
    def exact(self) -> bool:
        """Whether search scans every vector (else it walks an HNSW graph)."""
        return not isinstance(faiss.downcast_index(self._index.index), faiss.IndexHNSW)

    def optimize(self, exact_max: int = EXACT_MAX_PASSAGES) -> None:
        """Give the index the type its size calls for: past ``exact_max`` passages a graph.

        A rebuild calls this once all passages are in; it also compacts a graph whose
        dead entries (removed articles) have grown to ``COMPACT_DEAD_SHARE`` of it.
        """
        total = int(self._index.ntotal)
        if self.exact:
            if total <= exact_max:
                return
        elif total - self.passage_count <= COMPACT_DEAD_SHARE * total:
            return
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        live = np.fromiter(
            ((int(i) >> PASSAGE_BITS) in self._article_of for i in ids), dtype=bool, count=total
        )
        vectors = self._index.index.reconstruct_n(0, total)[live]
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))  # free the old one first
        graph = faiss.IndexHNSWSQ(
            self.dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT
        )
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.train(vectors)  # each dimension's range, for its 256 steps
        index = faiss.IndexIDMap2(graph)
        index.add_with_ids(vectors, ids[live])
        self._index = index

    # -- writing -----------------------------------------------------------------------

    def add(self, article_id: str, vectors: np.ndarray) -> None:
        """Store an article's passage vectors, replacing any it had."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(vectors) >= 1 << PASSAGE_BITS:
            raise ValueError(f"{len(vectors)} passages; at most {(1 << PASSAGE_BITS) - 1}")
        self.remove(article_id)
        key = self._next_key
        self._next_key += 1
        ids = (np.int64(key) << PASSAGE_BITS) + np.arange(len(vectors), dtype=np.int64)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._key_of[article_id] = key
        self._article_of[key] = article_id
        self._passages[key] = len(vectors)

    def remove(self, article_id: str) -> bool:
        with self._centroids_lock:
            self._centroids.pop(article_id, None)
        key = self._key_of.pop(article_id, None)
        if key is None:
            return False
        del self._article_of[key]
        count = self._passages.pop(key)
        if self.exact:
            ids = (np.int64(key) << PASSAGE_BITS) + np.arange(count, dtype=np.int64)
            self._index.remove_ids(faiss.IDSelectorArray(ids))
        # else the passages stay in the graph as dead entries; search skips them
        return True

    # -- reading -----------------------------------------------------------------------

    def centroid(self, article_id: str) -> np.ndarray:
        """The unit mean of an article's passage vectors: the article as one vector.

        Cached (the ``CACHED_CENTROIDS`` most recently used), since similar-article
        queries and score blending ask for the same articles again and again; add
        and remove drop the article's entry.
        """
        with self._centroids_lock:
            cached = self._centroids.get(article_id)
            if cached is not None:
                self._centroids.move_to_end(article_id)
                return cached
        mean = self.vectors_of(article_id).mean(axis=0)
        cached = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        with self._centroids_lock:
            self._centroids[article_id] = cached
            if len(self._centroids) > CACHED_CENTROIDS:
                self._centroids.popitem(last=False)
        return cached

    def leads(self, article_ids: Sequence[str]) -> np.ndarray:
        """The lead vectors of several articles, one row each, read in one FAISS call."""
        keys = np.array([self._key_of[a] for a in article_ids], dtype=np.int64) << PASSAGE_BITS
        return self._index.reconstruct_batch(keys)

    def all_centroids(self, ids: list[str], block: int = 65_536) -> np.ndarray:
        """The unit centroids of ``ids`` (stored articles), one row each, in one pass.

        Reading passages article by article is a Python call per passage (minutes
        at 100k articles); this reads the index in blocks and sums by article.
        Nothing is cached: the neighbour table needs them once per write.
        """
        row_of = {self._key_of[article_id]: i for i, article_id in enumerate(ids)}
        sums = np.zeros((len(ids), self.dim), dtype=np.float64)
        passage_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        for start in range(0, len(passage_ids), block):
            keys = passage_ids[start : start + block] >> PASSAGE_BITS
            rows = np.fromiter((row_of.get(int(k), -1) for k in keys), np.int64, len(keys))
            live = rows >= 0
            if live.any():
                vectors = self._index.index.reconstruct_n(start, len(keys))[live]
                # Summed per article over runs of passages sorted by article, with
                # dimensions as rows so each sum reads contiguous memory (``np.add.at``
                # over passage rows took 38 s at 100k articles).
                order = np.argsort(rows[live], kind="stable")
                ordered = rows[live][order]
                starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
                by_dimension = np.ascontiguousarray(vectors[order].T, dtype=np.float64)
                sums[ordered[starts]] += np.add.reduceat(by_dimension, starts, axis=1).T
        norms = np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return (sums / norms).astype(np.float32)

    def vectors_of(self, article_id: str) -> np.ndarray:
        key = self._key_of[article_id]
        ids = (np.int64(key) << PASSAGE_BITS) + np.arange(self._passages[key], dtype=np.int64)
        return self._index.reconstruct_batch(ids)

    def _breadth(self) -> int:
        """A graph search's breadth (efSearch) for this graph's size."""
        wanted = int(self._index.ntotal) // PASSAGES_PER_EF
        return min(HNSW_EF_SEARCH, max(HNSW_EF_SEARCH_MIN, wanted))

    def search(
        self, vector: np.ndarray, depth: int, exclude: frozenset[str] = frozenset()
    ) -> list[SemanticHit]:
        """The ``depth`` articles whose best passage is nearest to ``vector``."""
        return self.nearest(vector, depth, None, exclude)[0]

    def nearest(
        self,
        vector: np.ndarray,
        depth: int,
        threshold: float | None,
        exclude: frozenset[str] = frozenset(),
    ) -> tuple[list[SemanticHit], dict[str, SemanticHit]]:
        """The ``depth`` nearest articles and, for a ``threshold``, what ``within``
        finds, from one walk over the vectors where one suffices.

        A flat scan's top passages hold every match once the last of them is not
        above the threshold (the rule for a real query); otherwise the range search runs.
        A graph search returns every candidate its walk kept, so one walk serves
        both answers instead of a search and a range search walking the graph twice.
        """
        if self._index.ntotal == 0 or (depth <= 0 and threshold is None):
            return [], {}
        # Several passages of one article can crowd the top; widen until enough
        # distinct articles are found or every passage was looked at. The top 2n
        # passages of a real query hold about 1.6n articles, so one pass is the rule.
        k = min(self._index.ntotal, max(depth * 2, 32))
        graph = not self.exact
        if graph and threshold is not None:
            k = min(self._index.ntotal, max(k, self._breadth()))
        # One query is no work for a team of OpenMP threads, whose spin-waiting only
        # adds latency on busy cores; the setting is per calling thread.
        faiss.omp_set_num_threads(1)
        while True:
            params = faiss.SearchParametersHNSW(efSearch=max(k, self._breadth())) if graph else None
            scores, ids = self._index.search(
                vector.reshape(1, -1).astype(np.float32), k, params=params
            )
            found = ids[0] >= 0
            best = self._best_passages(scores[0][found], ids[0][found], exclude)
            if len(best) >= depth or k >= self._index.ntotal:
                break
            k = min(self._index.ntotal, k * 4)
        hits = sorted(best.values(), key=lambda h: -h.score)[:depth]
        if threshold is None:
            return hits, {}
        lowest = scores[0][found][-1] if found.any() else -np.inf
        everything = k >= self._index.ntotal or lowest <= threshold  # range search keeps > only
        if graph or everything:
            return hits, {a: h for a, h in best.items() if h.score > threshold}
        return hits, self.within(vector, threshold, exclude)

    def _best_passages(
        self, scores: np.ndarray, ids: np.ndarray, exclude: frozenset[str]
    ) -> dict[str, SemanticHit]:
        """Each article's best passage among passage hits listed best first."""
        keys = ids >> PASSAGE_BITS
        _keys, first = np.unique(keys, return_index=True)
        first.sort()
        best: dict[str, SemanticHit] = {}
        mask = (1 << PASSAGE_BITS) - 1
        for score, passage_id in zip(scores[first].tolist(), ids[first].tolist(), strict=True):
            article_id = self._article_of.get(passage_id >> PASSAGE_BITS)
            if article_id is None or article_id in exclude:
                continue  # a dead graph entry, or not wanted
            best[article_id] = SemanticHit(article_id, score, passage_id & mask)
        return best

    def within(
        self, vector: np.ndarray, threshold: float, exclude: frozenset[str] = frozenset()
    ) -> dict[str, SemanticHit]:
        """Every article whose best passage is more than ``threshold`` similar to
        ``vector``, with that passage, by a range search over all passages.

        Unlike a top-k search its result does not depend on how many others are
        near, so a filter narrows it to exactly the matches that pass the filter.
        """
        if self._index.ntotal == 0:
            return {}
        faiss.omp_set_num_threads(1)
        params = None if self.exact else faiss.SearchParametersHNSW(efSearch=self._breadth())
        _limits, scores, ids = self._index.range_search(
            vector.reshape(1, -1).astype(np.float32), float(threshold), params=params
        )
        order = np.argsort(-scores, kind="stable")
        best: dict[str, SemanticHit] = {}
        mask = (1 << PASSAGE_BITS) - 1
        for score, passage_id in zip(scores[order].tolist(), ids[order].tolist(), strict=True):
            article_id = self._article_of.get(passage_id >> PASSAGE_BITS)
            if article_id is None or article_id in exclude or article_id in best:
                continue  # a dead graph entry, filtered out, or a weaker passage
            best[article_id] = SemanticHit(article_id, score, passage_id & mask)
        return best

    # -- persistence -------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write both files beside their final names, then rename each into place."""
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(folder / f"{VECTORS_FILE}.tmp"))
        keys = {
            "dim": self.dim,
            "next_key": self._next_key,
            "articles": {a: [k, self._passages[k]] for a, k in self._key_of.items()},
        }
        (folder / f"{KEYS_FILE}.tmp").write_text(json.dumps(keys), encoding="utf-8")
        os.replace(folder / f"{VECTORS_FILE}.tmp", folder / VECTORS_FILE)
        os.replace(folder / f"{KEYS_FILE}.tmp", folder / KEYS_FILE)

    @classmethod
    def load(cls, folder: Path, mapped: bool = False) -> VectorIndex:
        """The vectors saved in ``folder``; ``mapped`` reads them in place from the
        file (read-only), so every process serving the file, and every generation
        that shares it as a hard link, shares one copy in the page cache."""
        keys = json.loads((folder / KEYS_FILE).read_text(encoding="utf-8"))
        store = cls(int(keys["dim"]))
        flags = faiss.IO_FLAG_MMAP_IFC if mapped else 0
        store._index = faiss.read_index(str(folder / VECTORS_FILE), flags)
        store._next_key = int(keys["next_key"])
        for article_id, (key, count) in keys["articles"].items():
            store._key_of[article_id] = key
            store._article_of[key] = article_id
            store._passages[key] = count
        return store
