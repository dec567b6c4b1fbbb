"""The semantic side: passage vectors in FAISS, mapped back to articles.

Each article gets an integer key; its passage ``n`` is stored under the FAISS id
``key << PASSAGE_BITS | n``, so an article's passages can be found, removed and
rebuilt from the key alone, and a passage hit names its article without a lookup
table per passage.

Small indexes are exact (a flat scan). A flat scan reads every vector per query:
an HNSW graph is faster from about 5k passages (a third of the time at 20k, a sixth
at 40k, with recall@10 0.98-0.99 against the scan) and takes a third of the memory,
but its 8-bit scores reorder near-ties: 12k passages as one graph gave the hybrid
top 10 of their exact yearly shards for 85% of the dev queries. So an index stays
exact up to 20k passages, where a scan takes under 2 ms, and ``optimize`` moves a
larger one to a graph, which visits a few thousand vectors per query, over vectors
stored as one byte per dimension (FAISS's 8-bit scalar quantizer): a quarter of
float32's memory, which is what let a 100k archive serve in under 1 GB, at
recall@10 measured in docs/benchmarks.md. An IVF was measured too and lost: on these
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

PASSAGE_BITS = 10
VECTORS_FILE = "vectors.faiss"
KEYS_FILE = "vectors.json"
EXACT_MAX_PASSAGES = 20_000
# Graph degree and search breadths, tuned on real passage vectors for recall@10
# >= 0.98 against exact search at 100k articles (680k passages: docs/benchmarks.md).
# Built with efConstruction 40 the graph gave 0.937 there at efSearch 400 and 0.976
# at 1,600; 120 takes 144 s instead of 46 s to build and gives 0.983 at 400 and
# 0.991 at 800, in 2 ms (``python -m bench.hnsw``).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 120
HNSW_EF_SEARCH = 800
# A smaller graph reaches the same recall with a narrower search: a yearly shard of a
# 100k archive (69k passages) gives recall@10 0.989 at 128 (0.993 at 200, 0.997 at
# 800), and a query walks every shard, so the breadth grows with the graph, from 128
# to 800 at 680k passages.
HNSW_EF_SEARCH_MIN = 128
PASSAGES_PER_EF = 850
COMPACT_DEAD_SHARE = 0.2
# Centroids kept for reuse per archive, least recently used out: 2 KB each, so 40 MB
# at most, where caching every article would hold 200 MB more at 100k articles.
CACHED_CENTROIDS = 20_000


@dataclass(frozen=True, eq=False)
class Nearest:
    """One index's answer to a vector (``VectorIndex.nearest``): the articles found,
    each by its best passage, best first, as arrays: cheap to build, to merge with
    other shards' answers and to send from a cluster's replicas, where an object per
    article cost more than the search itself."""

    ids: np.ndarray  # article ids (str objects)
    scores: np.ndarray  # cosine of the best passage, descending
    passages: np.ndarray  # position of the best passage in its article

    def __len__(self) -> int:
        return len(self.ids)

    def rank_of(self, row: int) -> tuple[float, str]:
        """Where a row sorts among every answer's: best first, ties by id."""
        return -float(self.scores[row]), str(self.ids[row])

    def hits(self, depth: int | None = None) -> list[SemanticHit]:
        """The first ``depth`` articles (None: all) as hits."""
        rows = slice(None, depth)
        return [
            SemanticHit(a, s, p)
            for a, s, p in zip(
                self.ids[rows].tolist(),
                self.scores[rows].tolist(),
                self.passages[rows].tolist(),
                strict=True,
            )
        ]

    def above(self, threshold: float) -> int:
        """How many lead the list by being more than ``threshold`` similar."""
        return int(np.count_nonzero(self.scores > threshold))

    def take(self, rows: slice) -> Nearest:
        return Nearest(self.ids[rows], self.scores[rows], self.passages[rows])

    @staticmethod
    def merged(answers: Sequence[Nearest]) -> Nearest:
        """Several shards' answers (or one) as one, best first, ties by id: the same
        order however the articles are sharded."""
        if not answers:
            return _NOTHING
        ids = np.concatenate([a.ids for a in answers])
        scores = np.concatenate([a.scores for a in answers])
        order = np.argsort(-scores, kind="stable")
        if np.any(np.diff(scores[order]) == 0):  # a tie: the id decides
            order = np.lexsort((ids.astype(str), -scores))
        passages = np.concatenate([a.passages for a in answers])
        return Nearest(ids[order], scores[order], passages[order])


_NOTHING = Nearest(np.array([], dtype=object), np.zeros(0, np.float32), np.zeros(0, np.int64))


class CentroidCache:
    """Article centroids, the ``CACHED_CENTROIDS`` most recently used; shared by every
    shard of an archive, so the bound is the archive's whatever its shard count.
    Request threads share it, hence the lock."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def get(self, article_id: str) -> np.ndarray | None:
        with self._lock:
            found = self._items.get(article_id)
            if found is not None:
                self._items.move_to_end(article_id)
            return found

    def put(self, article_id: str, centroid: np.ndarray) -> None:
        with self._lock:
            self._items[article_id] = centroid
            if len(self._items) > CACHED_CENTROIDS:
                self._items.popitem(last=False)

    def drop(self, article_id: str) -> None:
        with self._lock:
            self._items.pop(article_id, None)


def graph_breadth(passages: int) -> int:
    """A graph search's breadth (efSearch) for a graph of ``passages``."""
    return min(HNSW_EF_SEARCH, max(HNSW_EF_SEARCH_MIN, passages // PASSAGES_PER_EF))


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
        # Replaced by one cache for all the shards of an archive (``ShardedVectors``).
        self.centroids = CentroidCache()

    def __len__(self) -> int:
        return len(self._key_of)

    @property
    def vector_count(self) -> int:
        """Vectors in the index: a graph's dead entries too, as its walks see them."""
        return int(self._index.ntotal)

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
        self.centroids.drop(article_id)
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

        Cached (see ``CentroidCache``), since similar-article queries and score
        blending ask for the same articles again and again; add and remove drop the
        article's entry.
        """
        cached = self.centroids.get(article_id)
        if cached is None:
            mean = self.vectors_of(article_id).mean(axis=0)
            cached = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
            self.centroids.put(article_id, cached)
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
        return graph_breadth(self.vector_count)

    def search(
        self, vector: np.ndarray, depth: int, exclude: frozenset[str] = frozenset()
    ) -> list[SemanticHit]:
        """The ``depth`` articles whose best passage is nearest to ``vector``."""
        return self.nearest(vector, depth, None, exclude).hits(depth)

    def nearest(
        self,
        vector: np.ndarray,
        depth: int,
        threshold: float | None,
        exclude: frozenset[str] = frozenset(),
    ) -> Nearest:
        """At least the ``depth`` nearest articles (fewer only if there are no more)
        and, for a ``threshold``, every match: on a flat scan every article more
        similar (what ``within`` finds), on a graph every candidate of the walk that
        is; from one walk over the vectors where one suffices.

        A flat scan's top passages hold every match once the last of them is not
        above the threshold (the rule for a real query); otherwise the range search runs.
        A graph search returns every candidate its walk kept, so one walk serves
        both answers instead of a search and a range search walking the graph twice.
        """
        if self._index.ntotal == 0 or (depth <= 0 and threshold is None):
            return _NOTHING
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
        if threshold is None or graph:
            return best
        lowest = scores[0][found][-1] if found.any() else -np.inf
        if k >= self._index.ntotal or lowest <= threshold:  # range search keeps > only
            return best
        # Every match from the range search, and the top articles that are not matches.
        below = best.take(slice(best.above(threshold), None))
        return Nearest.merged([self.within(vector, threshold, exclude), below])

    def _best_passages(
        self, scores: np.ndarray, ids: np.ndarray, exclude: frozenset[str]
    ) -> Nearest:
        """Each article's best passage among passage hits listed best first."""
        _keys, first = np.unique(ids >> PASSAGE_BITS, return_index=True)
        first.sort()
        names = [self._article_of.get(key) for key in (ids[first] >> PASSAGE_BITS).tolist()]
        # Not a dead graph entry, and wanted.
        kept = [i for i, name in enumerate(names) if name is not None and name not in exclude]
        rows = first[kept]
        return Nearest(
            np.array([names[i] for i in kept], dtype=object),
            scores[rows],
            ids[rows] & ((1 << PASSAGE_BITS) - 1),
        )

    def within(
        self, vector: np.ndarray, threshold: float, exclude: frozenset[str] = frozenset()
    ) -> Nearest:
        """Every article whose best passage is more than ``threshold`` similar to
        ``vector``, with that passage, by a range search over all passages.

        Unlike a top-k search its result does not depend on how many others are
        near, so a filter narrows it to exactly the matches that pass the filter.
        """
        if self._index.ntotal == 0:
            return _NOTHING
        faiss.omp_set_num_threads(1)
        params = None if self.exact else faiss.SearchParametersHNSW(efSearch=self._breadth())
        _limits, scores, ids = self._index.range_search(
            vector.reshape(1, -1).astype(np.float32), float(threshold), params=params
        )
        order = np.argsort(-scores, kind="stable")
        return self._best_passages(scores[order], ids[order], exclude)

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
