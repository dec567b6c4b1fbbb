"""The neighbour table: built whole, kept current by writes, saved with a generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.engine import Engine
from search.semantic.neighbours import NEIGHBOURS_FILE, NeighbourTable
from search.semantic.sharded import ShardedVectors
from search.semantic.vectors import VectorIndex


def _topics(count: int = 3) -> ShardedVectors:
    """Two topics (x, y) of ``count`` articles each, one passage per article, in two
    shards that hold some of each (the table is the whole archive's)."""
    shards = [VectorIndex(2), VectorIndex(2)]
    for i in range(count):
        shards[i % 2].add(f"x{i}", np.array([[1.0, 0.01 * (i + 1)]], dtype=np.float32))
        shards[(i + 1) % 2].add(f"y{i}", np.array([[0.01 * (i + 1), 1.0]], dtype=np.float32))
    return ShardedVectors(shards)


def _written(vectors: ShardedVectors) -> ShardedVectors:
    """The archive after its shards were changed (a write's new generation)."""
    return ShardedVectors(vectors.shards)


def test_neighbourhoods_of_one_topic_overlap_and_of_two_do_not() -> None:
    table = NeighbourTable.build(_topics(), k=2)
    # x0's two nearest are x1 and x2, x1's are x0 and x2: they share x2, 1 of 2.
    assert table.shared("x0", ["x1", "x2", "y0"]).tolist() == [0.5, 0.5, 0.0]
    assert table.shared("unknown", ["x1"]).tolist() == [0.0]


def test_a_write_adds_rows_and_drops_removed_articles() -> None:
    vectors = _topics(10)
    table = NeighbourTable.build(vectors, k=2)
    vectors.shards[vectors.shard_of("x2")].remove("x2")
    vectors.shards[0].add("x10", np.array([[1.0, 0.025]], dtype=np.float32))
    vectors = _written(vectors)
    updated = table.updated(vectors, ["x10"], k=2)  # 1 change in 20: rows kept
    assert sorted(updated.ids) == sorted(vectors.ids())
    assert updated.changed == 1
    # The new article's row is computed against the archive as it is now.
    row = updated.table[updated.ids.index("x10")]
    assert all(updated.ids[i].startswith("x") for i in row)
    # The removed article is gone from the table; rows that named it hold -1 there.
    assert "x2" not in updated.ids
    assert updated.table.min() >= -1 and updated.table.max() < len(updated.ids)
    before = {table.ids[i] for i in table.table[table.ids.index("x1")]}
    after = {updated.ids[i] for i in updated.table[updated.ids.index("x1")] if i >= 0}
    assert after == before - {"x2"}


def test_many_changes_recompute_the_whole_table() -> None:
    vectors = _topics()
    table = NeighbourTable.build(vectors, k=2)
    vectors.shards[1].add("x9", np.array([[1.0, 0.05]], dtype=np.float32))
    assert table.updated(_written(vectors), ["x9"], k=2).changed == 0  # 1 of 7 is over a tenth


def test_a_table_survives_saving(tmp_path: Path) -> None:
    table = NeighbourTable.build(_topics(), k=2)
    table.save(tmp_path)
    loaded = NeighbourTable.load(tmp_path)
    assert loaded is not None
    assert loaded.ids == table.ids
    np.testing.assert_array_equal(loaded.table, table.table)
    assert NeighbourTable.load(tmp_path / "missing") is None


@pytest.mark.usefixtures("engine")
def test_every_generation_has_a_table(engine: Engine) -> None:
    generation = engine._current()
    assert (generation.folder / NEIGHBOURS_FILE).exists()
    assert sorted(generation.neighbours.ids) == sorted(generation.vectors.ids())
