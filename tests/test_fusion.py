"""Fusion maths on tiny fixed inputs."""

from __future__ import annotations

import pytest

from search.fusion import (
    fuse,
    lexical_weight_for,
    minmax,
    reciprocal_rank_fusion,
    weighted_sum,
    zscore,
)


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)


def test_rrf_orders_by_score_then_id() -> None:
    assert [i for i, _ in reciprocal_rank_fusion([["x", "y"], ["y", "x"]])] == ["x", "y"]
    assert [i for i, _ in reciprocal_rank_fusion([["a", "b"], ["b", "c"]])] == ["b", "a", "c"]


def test_rrf_weights_scale_each_ranking() -> None:
    fused = dict(reciprocal_rank_fusion([["a"], ["b"]], k=0, weights=[2.0, 1.0]))
    assert fused == {"a": 2.0, "b": 1.0}
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


def test_minmax_and_zscore_on_fixed_inputs() -> None:
    assert minmax({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert minmax({"a": 7.0}) == {"a": 1.0}
    z = zscore({"a": 1.0, "b": 3.0})
    assert z == {"a": pytest.approx(-1.0), "b": pytest.approx(1.0)}
    assert zscore({"a": 5.0, "b": 5.0}) == {"a": 0.0, "b": 0.0}


def test_weighted_sum_gives_a_missing_item_the_lists_floor() -> None:
    fused = dict(weighted_sum([{"a": 1.0, "b": 0.0}, {"b": 1.0, "c": 0.5}], [0.25, 0.75]))
    assert fused["a"] == pytest.approx(0.25 * 1.0 + 0.75 * 0.5)  # c's 0.5 is list 2's floor
    assert fused["b"] == pytest.approx(0.25 * 0.0 + 0.75 * 1.0)
    assert fused["c"] == pytest.approx(0.25 * 0.0 + 0.75 * 0.5)


def test_fuse_by_name() -> None:
    lexical = [("a", 10.0), ("b", 5.0), ("c", 0.0)]
    semantic = [("c", 0.9), ("b", 0.8), ("a", 0.1)]
    assert [i for i, _ in fuse("rrf", lexical, semantic)] == ["a", "c", "b"]
    # minmax: a = .3*1 + .7*0 = .3; b = .3*.5 + .7*.875 = .7625; c = .3*0 + .7*1 = .7
    assert [i for i, _ in fuse("minmax", lexical, semantic)] == ["b", "c", "a"]
    assert [i for i, _ in fuse("minmax", lexical, semantic, lexical_weight=1.0)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse("borda", lexical, semantic)


def test_prose_gets_less_lexical_weight_than_keywords() -> None:
    assert lexical_weight_for("Hegseth Brüssel") > lexical_weight_for(
        "Which minister presented the US plans for Ukraine in Brussels?"
    )


def test_the_lexical_weight_shrinks_with_the_share_of_query_words_the_archive_knows() -> None:
    full = lexical_weight_for("Hegseth Brüssel")
    assert lexical_weight_for("Hegseth Brüssel", known_share=1.0) == full
    assert lexical_weight_for("Hegseth Brüssel", known_share=0.5) == pytest.approx(full / 2)
    assert lexical_weight_for("Hegseth Brüssel", known_share=0.0) == 0.0
    # Out-of-range shares are clamped, never a negative or inflated weight.
    assert lexical_weight_for("Hegseth Brüssel", known_share=1.7) == full
