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

from search.semantic.vectors import SemanticHit, VectorIndex

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
    ) -> tuple[list[SemanticHit], dict[str, SemanticHit]]: ...


class ShardedVectors:
    """Passage vectors of several shards; searches go to the shards in ``searched``."""

    def __init__(self, shards: Sequence[VectorIndex]) -> None:
        self.shards = list(shards)
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
        shard (``VectorIndex.nearest``)."""
        found = self._ask(lambda shard: shard.nearest(vector, depth, threshold, exclude))
        hits = [hit for nearest, _matches in found for hit in nearest]
        matches = {a: hit for _nearest, answer in found for a, hit in answer.items()}
        return sorted(hits, key=lambda h: (-h.score, h.article_id))[:depth], matches

    def _ask(self, question: Callable[[Searcher], T]) -> list[T]:
        """Each searched shard's answer, in parallel; failures go to ``failed``."""

        def answer(index: int) -> T | None:
            try:
                return question(self.searchers[index])
            except Exception:
                self.failed.add(index)
                return None

        if len(self.searched) == 1:
            answers = [answer(self.searched[0])]
        else:
            answers = list(self._pool.map(answer, self.searched))
        return [a for a in answers if a is not None]
