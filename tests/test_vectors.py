"""The vector index: exact while small, an HNSW graph once large, same operations either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.semantic.sharded import ShardedVectors
from search.semantic.vectors import Nearest, VectorIndex

DIM = 48
ARTICLES = 1500
PASSAGES = 3
# A graph stores one byte per dimension: values come back to within a step or two.
QUANTIZED = 0.005


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def clustered() -> dict[str, np.ndarray]:
    """Passage vectors around topic centres, the way news passages cluster by topic."""
    rng = np.random.default_rng(7)
    centres = _unit(rng.standard_normal((40, DIM)))
    topics = rng.integers(0, len(centres), ARTICLES)
    noise = rng.standard_normal((ARTICLES, PASSAGES, DIM)) * 0.12
    return {f"a{i}": _unit(centres[topics[i]] + noise[i]) for i in range(ARTICLES)}


def _index(articles: dict[str, np.ndarray]) -> VectorIndex:
    index = VectorIndex(DIM)
    for article_id, matrix in articles.items():
        index.add(article_id, matrix)
    return index


def _top(index: VectorIndex, query: np.ndarray, k: int = 10) -> list[str]:
    return [hit.article_id for hit in index.search(query, k)]


def test_a_small_index_stays_exact(clustered: dict[str, np.ndarray]) -> None:
    index = _index(clustered)
    index.optimize(exact_max=ARTICLES * PASSAGES)
    assert index.exact


def test_a_large_index_becomes_a_graph_that_agrees_with_exact_search(
    clustered: dict[str, np.ndarray],
) -> None:
    exact = _index(clustered)
    graph = _index(clustered)
    graph.optimize(exact_max=1000)
    assert not graph.exact and exact.exact
    queries = _unit(np.random.default_rng(8).standard_normal((60, DIM)))
    probes = [*queries, *(m[0] for m in list(clustered.values())[:60])]
    recall = np.mean([len(set(_top(exact, q)) & set(_top(graph, q))) / 10 for q in probes])
    assert recall >= 0.98
    # An article's own passage finds it first, with its score to the quantizer's step.
    hit = graph.search(clustered["a5"][1], 1)[0]
    assert hit.article_id == "a5" and hit.passage == 1
    assert hit.score == pytest.approx(1.0, abs=QUANTIZED)


def test_a_graph_adds_removes_and_reconstructs_like_the_exact_index(
    clustered: dict[str, np.ndarray], tmp_path: Path
) -> None:
    graph = _index(clustered)
    graph.optimize(exact_max=1000)
    np.testing.assert_allclose(graph.vectors_of("a3"), clustered["a3"], atol=QUANTIZED)

    # A removed article's passages stay in the graph, dead, and are never returned.
    assert graph.remove("a3") and "a3" not in graph
    assert "a3" not in _top(graph, clustered["a3"][0], 50)
    replacement = clustered["a4"][:2]
    graph.add("a4", replacement)
    np.testing.assert_allclose(graph.vectors_of("a4"), replacement, atol=QUANTIZED)
    assert _top(graph, clustered["a4"][0], 1) == ["a4"]
    assert graph.passage_count == (ARTICLES - 1) * PASSAGES - 1

    graph.save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    assert not loaded.exact and len(loaded) == ARTICLES - 1
    assert loaded.passage_count == graph.passage_count
    query = clustered["a9"][2]
    assert _top(loaded, query) == _top(graph, query)


def test_optimize_compacts_a_graph_once_a_fifth_of_it_is_dead(
    clustered: dict[str, np.ndarray],
) -> None:
    graph = _index(clustered)
    graph.optimize(exact_max=1000)
    stored = graph._index.ntotal
    for i in range(200):
        graph.remove(f"a{i}")
    graph.optimize(exact_max=1000)
    assert graph._index.ntotal == stored  # 13% dead: left alone
    for i in range(200, 400):
        graph.remove(f"a{i}")
    graph.optimize(exact_max=1000)
    assert graph._index.ntotal == graph.passage_count == (ARTICLES - 400) * PASSAGES
    assert not graph.exact and "a10" not in graph
    assert _top(graph, clustered["a500"][0], 1) == ["a500"]


@pytest.mark.parametrize("graph", [False, True])
def test_all_centroids_in_one_pass_equal_each_article_centroid(
    clustered: dict[str, np.ndarray], graph: bool
) -> None:
    index = _index(clustered)
    if graph:
        index.optimize(exact_max=1000)
    index.remove("a3")  # a graph keeps its passages as dead entries, to be skipped
    ids = sorted(index.ids(), reverse=True)[:50]
    expected = np.vstack([index.centroid(article_id) for article_id in ids])
    np.testing.assert_allclose(index.all_centroids(ids, block=7), expected, atol=1e-6)


def test_the_centroid_cache_keeps_only_the_most_recently_used(
    clustered: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("search.semantic.vectors.CACHED_CENTROIDS", 2)
    index = _index({k: clustered[k] for k in ("a0", "a1", "a2")})
    first = index.centroid("a0")
    index.centroid("a1")
    index.centroid("a0")  # used again: a1 is now the least recently used
    index.centroid("a2")
    assert list(index.centroids) == ["a0", "a2"]
    np.testing.assert_array_equal(index.centroid("a0"), first)
    index.add("a0", clustered["a1"])  # a replaced article drops its cached centroid
    assert "a0" not in list(index.centroids)
    np.testing.assert_allclose(index.centroid("a0"), index.centroid("a1"))


@pytest.mark.parametrize("threshold", [0.95, 0.6, 0.0])
def test_one_pass_of_an_exact_index_finds_what_a_range_search_finds(
    clustered: dict[str, np.ndarray], threshold: float
) -> None:
    """Whether the top passages hold every match (a high threshold) or not (a low
    one, which falls back to the range search), the matches are the range search's."""
    index = _index(clustered)
    exclude = frozenset({"a1", "a2"})
    for query in [*_unit(np.random.default_rng(9).standard_normal((5, DIM))), clustered["a3"][0]]:
        answer = index.nearest(query, 10, threshold, exclude)
        matches = answer.take(slice(answer.above(threshold))).hits()
        assert answer.hits(10) == index.search(query, 10, exclude)
        assert set(matches) == set(index.within(query, threshold, exclude).hits())


def test_one_walk_of_a_graph_finds_its_matches_among_the_walks_candidates(
    clustered: dict[str, np.ndarray],
) -> None:
    exact = _index(clustered)
    graph = _index(clustered)
    graph.optimize(exact_max=1000)
    query = clustered["a3"][0]
    answer = graph.nearest(query, 10, 0.9, frozenset())
    matches = {hit.article_id: hit for hit in answer.take(slice(answer.above(0.9))).hits()}
    truth = {hit.article_id for hit in exact.within(query, 0.9).hits()}
    assert [h.article_id for h in answer.hits(10)] == _top(graph, query)
    assert all(hit.score > 0.9 for hit in matches.values())
    assert len(set(matches) & set(truth)) >= 0.98 * len(truth)


@pytest.mark.parametrize("threshold", [None, 0.6])
def test_shards_asked_for_their_share_answer_as_if_each_was_asked_for_all(
    clustered: dict[str, np.ndarray], threshold: float | None
) -> None:
    """One shard holds every article near the query, so its share (67 of 100, whose
    two passages each fill the 134 passages it reads) is not enough and it is asked
    again; the others answer their share once."""
    query = clustered["a3"][0]
    near = sorted(clustered, key=lambda a: -float(np.max(clustered[a][:2] @ query)))
    close, far = near[:300], near[300:]
    parts = [
        {a: clustered[a][:2] for a in close},
        *({a: clustered[a] for a in far[i::2]} for i in (0, 1)),
    ]
    shards = [_index(part) for part in parts]
    asked: list[int] = []
    for shard in shards:
        own = shard.nearest

        def counted(*args: object, own: object = own) -> Nearest:
            asked.append(int(args[1]))  # type: ignore[call-overload]
            return own(*args)  # type: ignore[operator,no-any-return]

        shard.nearest = counted  # type: ignore[method-assign]
    hits, matches = ShardedVectors(shards).nearest(query, 100, threshold)
    assert sorted(asked) == [67, 67, 67, 100]  # a share each, then all of the depth once
    every = Nearest.merged([shard.nearest(query, 100, threshold) for shard in shards])
    assert hits == every.hits(100)
    assert [h.article_id for h in hits[:50]] == near[:50]
    if threshold is not None:
        truth = {h.article_id for h in every.take(slice(every.above(threshold))).hits()}
        assert set(matches) == truth and truth


def test_the_shards_of_an_archive_share_one_centroid_bound(
    clustered: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("search.semantic.vectors.CACHED_CENTROIDS", 2)
    shards = [
        _index({"a0": clustered["a0"]}),
        _index({"a1": clustered["a1"], "a2": clustered["a2"]}),
    ]
    archive = ShardedVectors(shards)
    for article_id in ("a0", "a1", "a2"):
        archive.centroid(article_id)
    assert list(shards[0].centroids) == list(shards[1].centroids) == ["a1", "a2"]
