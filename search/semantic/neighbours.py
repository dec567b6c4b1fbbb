"""Each article's nearest articles, computed when a generation is written.

"More like this" re-ranks its candidates by how much their neighbourhoods overlap
with the example's (``semantic.rank_like``). Finding one article's neighbours means
comparing it with every other article, so doing that for 200 candidates per request
cost 100 ms at 10k articles and would grow with the archive; reading them from this
table costs a lookup.

Neighbours are by cosine of centroids centred on the archive's mean (what all
articles share would otherwise make every article look alike). A rebuild computes
every row; a write computes the rows of the articles it adds and keeps the others,
whose lists then miss the new articles. Once such writes have touched a tenth of
the archive, the next write recomputes every row.

The rows are stored per shard (``neighbours.npz`` in each shard's folder), so a
write rewrites only the rows of the shards it touches. A row names its neighbours,
which may live in any shard, by a 64-bit hash of their ids (positions into one list
would shift whenever another shard changes); a build checks that no two articles
share a hash. The rows of an untouched shard therefore keep naming an article a
later write deleted (such a name matches no article and counts for nothing) and miss
articles added since, until the next full recompute.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from search.semantic.sharded import ShardedVectors

NEIGHBOURS_FILE = "neighbours.npz"
NEIGHBOURS = 60
# Rows computed per matrix product: 256 x articles floats (100 MB at 100k) at a time.
BLOCK_ROWS = 256
REFRESH_SHARE = 0.1
# The stored name of "no neighbour" (a removed article's slot in a recomputed row).
_NONE = 0


def centred_centroids(vectors: ShardedVectors, ids: list[str]) -> np.ndarray:
    """The unit centroids of ``ids`` less the archive's mean centroid, one row each."""
    if not ids:
        return np.zeros((0, vectors.dim), dtype=np.float32)
    matrix = vectors.all_centroids(ids) - vectors.mean_centroid()
    norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return (matrix / norms).astype(np.float32)


def _nearest(rows: np.ndarray, own: np.ndarray, everyone: np.ndarray, k: int) -> np.ndarray:
    """Positions in ``everyone`` of each row's ``k`` nearest, never the row itself."""
    similarity = rows @ everyone.T
    similarity[np.arange(len(rows)), own] = -np.inf
    return np.argpartition(-similarity, k - 1, axis=1)[:, :k].astype(np.int32)


def article_keys(ids: Sequence[str], salt: int) -> np.ndarray:
    """The 64-bit names of ``ids`` in stored rows: a hash of each id with ``salt``."""
    seed = salt.to_bytes(8, "little")
    digests = b"".join(
        hashlib.blake2b(i.encode("utf-8"), digest_size=8, salt=seed).digest() for i in ids
    )
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def _distinct(keys: np.ndarray) -> bool:
    """Whether ``keys`` name every article apart, none by the name of "no neighbour"."""
    return len(np.unique(keys)) == len(keys) and not (keys == _NONE).any()


@dataclass
class NeighbourTable:
    """Row ``i`` lists the positions in ``ids`` of ``ids[i]``'s nearest articles (-1:
    an article no longer there)."""

    ids: list[str]
    table: np.ndarray
    # Articles added or replaced since every row was last computed.
    changed: int = 0
    # What the stored names of the articles are hashed with (a build that finds two
    # articles of one name takes the next).
    salt: int = 0
    # Whether every row was just computed (and every shard's rows need saving).
    recomputed: bool = False

    def __post_init__(self) -> None:
        self._position = {article_id: i for i, article_id in enumerate(self.ids)}

    @cached_property
    def _named(self) -> np.ndarray:
        """Each article's stored name, then "no neighbour" for position -1: hashed
        once per table, not once per shard saved."""
        return np.append(article_keys(self.ids, self.salt), np.uint64(_NONE))

    @classmethod
    def build(cls, vectors: ShardedVectors, k: int = NEIGHBOURS, salt: int = 0) -> NeighbourTable:
        """Every article's ``k`` nearest articles (fewer in an archive of ``k`` or less)."""
        ids = sorted(vectors.ids())
        while not _distinct(article_keys(ids, salt)):
            salt += 1
        k = min(k, len(ids) - 1)
        if k <= 0:
            return cls(ids, np.zeros((len(ids), 0), dtype=np.int32), salt=salt, recomputed=True)
        everyone = centred_centroids(vectors, ids)
        blocks = []
        for start in range(0, len(ids), BLOCK_ROWS):
            rows = np.arange(start, min(start + BLOCK_ROWS, len(ids)))
            blocks.append(_nearest(everyone[rows], rows, everyone, k))
        table = np.vstack(blocks)
        return cls(ids, table, salt=salt, recomputed=True)

    def updated(
        self, vectors: ShardedVectors, added: list[str], k: int = NEIGHBOURS
    ) -> NeighbourTable:
        """The table after a write to ``vectors``: rows for ``added``, the rest kept.

        Removed articles drop out of every row kept (rows may then be a little short
        of ``k``); after enough changes, or when an added article's stored name is
        another's, the whole table is recomputed.
        """
        changed = self.changed + len(added)
        current = vectors.ids()
        if changed > REFRESH_SHARE * len(current) or self.table.shape[1] < min(k, len(current) - 1):
            return NeighbourTable.build(vectors, k, self.salt)
        fresh = set(added)
        kept = [a for a in self.ids if a in current and a not in fresh]
        ids = kept + sorted(fresh & current)
        if not _distinct(article_keys(ids, self.salt)):
            return NeighbourTable.build(vectors, k, self.salt + 1)
        moved = np.full(len(self.ids) + 1, -1, dtype=np.int32)  # the last slot maps -1
        new_position = {article_id: i for i, article_id in enumerate(ids)}
        for old, article_id in enumerate(self.ids):
            moved[old] = new_position.get(article_id, -1) if article_id not in fresh else -1
        rows = [moved[self.table[self._position[a]]] for a in kept]
        k = self.table.shape[1]
        if fresh & current:
            everyone = centred_centroids(vectors, ids)
            own = np.arange(len(kept), len(ids))
            rows.extend(_nearest(everyone[len(kept) :], own, everyone, k))
        table = np.vstack(rows) if rows else np.zeros((0, k), dtype=np.int32)
        return NeighbourTable(ids, table.astype(np.int32), changed, self.salt)

    def shared(self, article_id: str, others: list[str]) -> np.ndarray:
        """For each of ``others``, the share of its neighbours that are also
        ``article_id``'s (0 for an article the table does not know)."""
        k = self.table.shape[1]
        row = self._position.get(article_id)
        if row is None or k == 0:
            return np.zeros(len(others), dtype=np.float32)
        mine = np.zeros(len(self.ids) + 1, dtype=bool)  # the last slot stands for -1
        mine[self.table[row]] = True
        mine[-1] = False
        positions = np.array([self._position.get(other, -1) for other in others], dtype=np.int64)
        overlap = mine[self.table[positions]].sum(axis=1) / k
        return np.where(positions >= 0, overlap, 0.0).astype(np.float32)

    def save(self, folder: Path, ids: Sequence[str]) -> None:
        """Write the rows of ``ids`` (one shard's articles) into ``folder``, naming
        their neighbours by their stored names. Written beside the final name, then
        renamed: the file there may be a hard link of the previous generation's."""
        rows = np.array([self._position[i] for i in ids], dtype=np.int64)
        table = self._named[self.table[rows]] if len(rows) else np.zeros((0, self.table.shape[1]))
        temporary = folder / f"{NEIGHBOURS_FILE}.tmp.npz"
        np.savez(
            temporary,
            ids=np.array(list(ids), dtype=str),
            keys=table.astype(np.uint64),
            salt=np.array(self.salt),
            changed=np.array(self.changed),
        )
        os.replace(temporary, folder / NEIGHBOURS_FILE)

    @classmethod
    def load(cls, folders: Sequence[Path]) -> NeighbourTable | None:
        """The table saved in the shard folders ``folders``, as one; None for a
        generation written before there was one."""
        paths = [folder / NEIGHBOURS_FILE for folder in folders]
        if not any(path.exists() for path in paths):
            return None
        ids: list[str] = []
        rows, salts, changed = [], set(), 0
        for path in paths:
            with np.load(path, allow_pickle=False) as saved:
                ids.extend(str(i) for i in saved["ids"])
                rows.append(saved["keys"])
                salts.add(int(saved["salt"]))
                changed = max(changed, int(saved["changed"]))  # the latest write's
        if len(salts) != 1 or len({r.shape[1] for r in rows}) != 1:
            raise ValueError("the shards' tables do not fit together")
        salt = salts.pop()
        named = article_keys(ids, salt)
        order = np.argsort(named)
        stored = np.vstack(rows)
        found = np.minimum(np.searchsorted(named[order], stored), max(len(ids) - 1, 0))
        table = np.where(named[order][found] == stored, order[found], -1) if ids else stored
        return cls(ids, table.astype(np.int32), changed, salt)

    @classmethod
    def load_archive(cls, folder: Path) -> NeighbourTable | None:
        """The one table of a generation written before tables were kept per shard
        (rows of positions in its ``ids``); None when it has none."""
        path = folder / NEIGHBOURS_FILE
        if not path.exists():
            return None
        with np.load(path) as saved:
            return cls([str(i) for i in saved["ids"]], saved["table"], int(saved["changed"]))
