"""The passage vectors of every shard, read as one archive.

Each shard has its own ``VectorIndex``; a search asks the shards it may use, in
parallel (FAISS releases the GIL while it searches, so shards use every core), and
merges their answers. An article lives in exactly one shard, so an article's own
vectors (centroid, lead passage) come from that shard alone.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Protocol, TypeVar

import numpy as np

from search.semantic.vectors import (
    CentroidCache,
    Nearest,
    SemanticHit,
    VectorIndex,
    graph_breadth,
)

T = TypeVar("T")
# One pool for every search of the process: a thread per core is all FAISS can use.
_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="shard")


class Searcher(Protocol):
    """What a search asks of one shard: a ``VectorIndex``, or its replicas elsewhere
    (``search.cluster.serving``)."""

    def nearest(
        self,
        vector: np.ndarray,
        depth: int,
        threshold: float | None,
        exclude: frozenset[str] = ...,
    ) -> Nearest: ...


class ShardedVectors:
    """Passage vectors of several shards; searches go to the shards in ``searched``."""

    def __init__(self, shards: Sequence[VectorIndex]) -> None:
        self.shards = list(shards)
        centroids = CentroidCache()
        for shard in self.shards:
            shard.centroids = centroids
        # Who answers each shard's searches, on which threads: the shard itself, one
        # thread per core, unless ``search_with``.
        self.searchers: list[Searcher] = list(self.shards)
        self._pool: Executor = _POOL
        self.dim = self.shards[0].dim
        self._shard_of = {a: i for i, shard in enumerate(self.shards) for a in shard.ids()}
        self.searched = list(range(len(self.shards)))
        self.failed: set[int] = set()
        # The mean centroid, once computed; shared with every ``searching`` view.
        self._memo: dict[str, np.ndarray] = {}

    def searching(self, searched: Sequence[int], failed: set[int]) -> ShardedVectors:
        """This archive with searches going to the shards ``searched`` only; a shard
        that fails to answer is added to ``failed`` and the others still answer."""
        view = copy.copy(self)  # shares the shards and what they remember
        view.searched, view.failed = list(searched), failed
        return view

    def search_with(self, searchers: Sequence[Searcher], pool: Executor) -> None:
        """Send each shard's searches to ``searchers`` (one per shard, in order), e.g.
        replicas on a cluster, asked from ``pool``'s threads (a remote call waits on
        the network, not on a core); the vectors' own reads (centroids, leads) stay
        here."""
        if len(searchers) != len(self.shards):
            raise ValueError(f"{len(searchers)} searchers for {len(self.shards)} shards")
        self.searchers, self._pool = list(searchers), pool

    def __len__(self) -> int:
        return len(self._shard_of)

    @property
    def passage_count(self) -> int:
        return sum(shard.passage_count for shard in self.shards)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._shard_of

    def ids(self) -> set[str]:
        return set(self._shard_of)

    @property
    def exact(self) -> bool:
        """Whether every shard scans all its vectors (small shards do; large ones walk
        a graph)."""
        return all(shard.exact for shard in self.shards)

    def shard_of(self, article_id: str) -> int:
        """The index of the shard holding ``article_id`` (KeyError if none does)."""
        return self._shard_of[article_id]

    def centroid(self, article_id: str) -> np.ndarray:
        return self.shards[self._shard_of[article_id]].centroid(article_id)

    def leads(self, article_ids: Sequence[str]) -> np.ndarray:
        """The lead vectors of ``article_ids``, one row each, read shard by shard."""
        out = np.zeros((len(article_ids), self.dim), dtype=np.float32)
        for shard, rows in self._rows_by_shard(article_ids).items():
            out[rows] = self.shards[shard].leads([article_ids[r] for r in rows])
        return out

    def _rows_by_shard(self, article_ids: Sequence[str]) -> dict[int, list[int]]:
        rows_of: dict[int, list[int]] = {}
        for row, article_id in enumerate(article_ids):
            rows_of.setdefault(self._shard_of[article_id], []).append(row)
        return rows_of

    def vectors_of(self, article_id: str) -> np.ndarray:
        return self.shards[self._shard_of[article_id]].vectors_of(article_id)

    def mean_centroid(self, sample: int = 2000) -> np.ndarray:
        """The average article vector (from an even sample by id), what every article
        shares; the same sample whatever the sharding."""
        if "mean" not in self._memo:
            ids = sorted(self._shard_of)[:: max(len(self._shard_of) // sample, 1)]
            rows = [self.centroid(a) for a in ids] or [np.zeros(self.dim, np.float32)]
            self._memo["mean"] = np.mean(rows, axis=0).astype(np.float32)
        return self._memo["mean"]

    def all_centroids(self, ids: list[str]) -> np.ndarray:
        """The unit centroids of ``ids``, one row each, read shard by shard."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for shard, rows in self._rows_by_shard(ids).items():
            out[rows] = self.shards[shard].all_centroids([ids[r] for r in rows])
        return out

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
        """The ``depth`` nearest articles and, for a ``threshold``, the articles whose
        best passage is more similar (the semantic matches), from one question to each
        shard (``VectorIndex.nearest``).

        Each shard is first asked for its share of ``depth`` (twice the even share),
        which costs a graph shard one walk of its usual breadth instead of one as wide
        as ``depth``. A shard whose last answer still ranks among the best ``depth`` of
        all may hold more, and only such a shard is asked again for all ``depth``: the
        answer is what asking every shard for ``depth`` gives, as Elasticsearch's
        kNN search asks each shard for ``k`` but with most shards asked for less.
        """
        searched = len(self.searched)
        share = depth if searched <= 1 else min(depth, max(-(-2 * depth // searched), 16))
        found = self._ask(lambda shard: shard.nearest(vector, share, threshold, exclude))
        if share < depth:
            merged = Nearest.merged(list(found.values()))
            cutoff = merged.rank_of(depth - 1) if len(merged) >= depth else None
            again = [
                i
                for i, answer in found.items()
                if len(answer) >= share and (cutoff is None or answer.rank_of(-1) <= cutoff)
            ]
            if again:
                found.update(
                    self._ask(lambda shard: shard.nearest(vector, depth, threshold, exclude), again)
                )
        hits = Nearest.merged(list(found.values())).hits(depth)
        return hits, {} if threshold is None else self._matches(found, threshold, depth)

    def _matches(
        self, found: dict[int, Nearest], threshold: float, depth: int
    ) -> dict[str, SemanticHit]:
        """The shards' matches: an exact shard's are all its articles above the
        threshold; graph shards' are their walks' candidates above it, of which the
        best are kept, as many as one walk over all their vectors would keep. So the
        count does not grow with the number of shards, each walking its own breadth."""
        graphs = [i for i in found if not self.shards[i].exact]
        kept = [found[i].take(slice(found[i].above(threshold))) for i in found]
        matches = [answer for i, answer in zip(found, kept, strict=True) if i not in graphs]
        if graphs:
            # One graph's walk keeps its breadth or twice the depth, whichever is more.
            vectors = sum(self.shards[i].vector_count for i in graphs)
            walked = [answer for i, answer in zip(found, kept, strict=True) if i in graphs]
            most = max(depth * 2, graph_breadth(vectors))
            matches.append(Nearest.merged(walked).take(slice(most)))
        return {hit.article_id: hit for answer in matches for hit in answer.hits()}

    def _ask(
        self, question: Callable[[Searcher], T], shards: Sequence[int] | None = None
    ) -> dict[int, T]:
        """Each shard's answer (by default each searched shard's), in parallel; a shard
        that fails goes to ``failed`` and has no answer."""

        def answer(index: int) -> T | None:
            try:
                return question(self.searchers[index])
            except Exception:
                self.failed.add(index)
                return None

        asked = self.searched if shards is None else list(shards)
        answers = [answer(asked[0])] if len(asked) == 1 else list(self._pool.map(answer, asked))
        return {i: a for i, a in zip(asked, answers, strict=True) if a is not None}
