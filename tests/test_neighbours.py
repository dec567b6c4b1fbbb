"""The neighbour table: built whole, kept current by writes, saved shard by shard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.engine import Engine
from search.semantic.neighbours import NEIGHBOURS_FILE, NeighbourTable, article_keys
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


def _pairs(table: NeighbourTable, ids: list[str]) -> list[list[float]]:
    return [table.shared(a, ids).tolist() for a in ids]


def _save_by_shard(table: NeighbourTable, vectors: ShardedVectors, into: Path) -> list[Path]:
    folders = [into / f"shard-{i}" for i in range(len(vectors.shards))]
    for folder, shard in zip(folders, vectors.shards, strict=True):
        folder.mkdir(exist_ok=True)
        table.save(folder, sorted(shard.ids()))
    return folders


def test_a_table_saved_shard_by_shard_loads_as_one(tmp_path: Path) -> None:
    vectors = _topics()
    table = NeighbourTable.build(vectors, k=2)
    loaded = NeighbourTable.load(_save_by_shard(table, vectors, tmp_path))
    assert loaded is not None and sorted(loaded.ids) == sorted(table.ids)
    ids = sorted(table.ids)
    assert _pairs(loaded, ids) == _pairs(table, ids)
    assert NeighbourTable.load([tmp_path / "missing"]) is None


def test_a_write_rewrites_only_its_shards_rows(tmp_path: Path) -> None:
    """Rows of an untouched shard keep naming a deleted article, which counts for
    nothing, and miss the new one: as the table in memory after the write."""
    vectors = _topics(10)
    table = NeighbourTable.build(vectors, k=2)
    folders = _save_by_shard(table, vectors, tmp_path)
    touched = vectors.shard_of("x2")
    vectors.shards[touched].remove("x2")
    vectors.shards[touched].add("x10", np.array([[1.0, 0.025]], dtype=np.float32))
    vectors = _written(vectors)
    updated = table.updated(vectors, ["x10"], k=2)
    updated.save(folders[touched], sorted(vectors.shards[touched].ids()))
    loaded = NeighbourTable.load(folders)
    assert loaded is not None and sorted(loaded.ids) == sorted(vectors.ids())
    assert loaded.changed == 1
    ids = sorted(vectors.ids())
    assert _pairs(loaded, ids) == _pairs(updated, ids)


def test_articles_are_named_apart_in_stored_rows() -> None:
    ids = [f"a{i}" for i in range(10_000)]
    keys = article_keys(ids, 0)
    assert len(set(keys.tolist())) == len(ids) and 0 not in keys
    assert (article_keys(ids, 1) != keys).all()


@pytest.mark.usefixtures("engine")
def test_every_generation_has_a_table(engine: Engine) -> None:
    generation = engine._current()
    for shard in generation.shards:
        assert (generation.folder / shard.path / NEIGHBOURS_FILE).exists()
    assert sorted(generation.neighbours.ids) == sorted(generation.vectors.ids())
