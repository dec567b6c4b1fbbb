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
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.semantic.sharded import ShardedVectors

NEIGHBOURS_FILE = "neighbours.npz"
NEIGHBOURS = 60
# Rows computed per matrix product: 256 x articles floats (100 MB at 100k) at a time.
BLOCK_ROWS = 256
REFRESH_SHARE = 0.1


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


@dataclass
class NeighbourTable:
    """Row ``i`` lists the positions in ``ids`` of ``ids[i]``'s nearest articles."""

    ids: list[str]
    table: np.ndarray
    # Articles added or replaced since every row was last computed.
    changed: int = 0

    def __post_init__(self) -> None:
        self._position = {article_id: i for i, article_id in enumerate(self.ids)}

    @classmethod
    def build(cls, vectors: ShardedVectors, k: int = NEIGHBOURS) -> NeighbourTable:
        """Every article's ``k`` nearest articles (fewer in an archive of ``k`` or less)."""
        ids = sorted(vectors.ids())
        k = min(k, len(ids) - 1)
        if k <= 0:
            return cls(ids, np.zeros((len(ids), 0), dtype=np.int32))
        everyone = centred_centroids(vectors, ids)
        blocks = []
        for start in range(0, len(ids), BLOCK_ROWS):
            rows = np.arange(start, min(start + BLOCK_ROWS, len(ids)))
            blocks.append(_nearest(everyone[rows], rows, everyone, k))
        table = np.vstack(blocks)
        return cls(ids, table)

    def updated(
        self, vectors: ShardedVectors, added: list[str], k: int = NEIGHBOURS
    ) -> NeighbourTable:
        """The table after a write to ``vectors``: rows for ``added``, the rest kept.

        Removed articles drop out of every row (rows may then be a little short of
        ``k``); after enough changes the whole table is recomputed.
        """
        changed = self.changed + len(added)
        current = vectors.ids()
        if changed > REFRESH_SHARE * len(current) or self.table.shape[1] < min(k, len(current) - 1):
            return NeighbourTable.build(vectors, k)
        fresh = set(added)
        kept = [a for a in self.ids if a in current and a not in fresh]
        ids = kept + sorted(fresh & current)
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
        return NeighbourTable(ids, table.astype(np.int32), changed)

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

    def save(self, folder: Path) -> None:
        """Write beside the final name, then rename, so a crash mid-write never leaves
        half a table under the final name."""
        temporary = folder / f"{NEIGHBOURS_FILE}.tmp.npz"
        np.savez(
            temporary,
            ids=np.array(self.ids, dtype=str),
            table=self.table,
            changed=np.array(self.changed),
        )
        os.replace(temporary, folder / NEIGHBOURS_FILE)

    @classmethod
    def load(cls, folder: Path) -> NeighbourTable | None:
        """The saved table, or None for a generation written before there was one."""
        path = folder / NEIGHBOURS_FILE
        if not path.exists():
            return None
        with np.load(path) as saved:
            return cls([str(i) for i in saved["ids"]], saved["table"], int(saved["changed"]))
