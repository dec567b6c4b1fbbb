"""Fusion maths on tiny fixed inputs."""

from __future__ import annotations

import pytest

from search.retrieval.fusion import (
    KEYWORD_LEXICAL_WEIGHT,
    PROSE_LEXICAL_WEIGHT,
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


def test_weighted_sum_takes_a_floor_per_list() -> None:
    fused = dict(weighted_sum([{"a": 1.0}, {"b": 1.0, "c": 0.5}], [0.5, 0.5], [-2.0, None]))
    assert fused["b"] == pytest.approx(0.5 * -2.0 + 0.5 * 1.0)  # list 1's given floor
    assert fused["a"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)  # list 2's own minimum
    with pytest.raises(ValueError, match="one floor per score list"):
        weighted_sum([{"a": 1.0}], [1.0], [0.0, 0.0])


def test_fuse_by_name() -> None:
    lexical = [("a", 10.0), ("b", 5.0), ("c", 0.0)]
    semantic = [("c", 0.9), ("b", 0.8), ("a", 0.1)]
    assert [i for i, _ in fuse("rrf", lexical, semantic, 0.3)] == ["a", "c", "b"]
    # minmax: a = .3*1 + .7*0 = .3; b = .3*.5 + .7*.875 = .7625; c = .3*0 + .7*1 = .7
    assert [i for i, _ in fuse("minmax", lexical, semantic, 0.3)] == ["b", "c", "a"]
    assert [i for i, _ in fuse("minmax", lexical, semantic, lexical_weight=1.0)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse("borda", lexical, semantic, 0.3)


def test_a_candidate_the_lexical_side_missed_scores_its_floor_or_its_zero() -> None:
    lexical = [("a", 3.0), ("b", 1.0)]  # z-scores +1 and -1; a score of 0 lies at -2
    semantic = [("a", 0.5), ("b", 0.5), ("c", 0.5)]  # all equal: every z-score is 0
    fused = dict(fuse("zscore", lexical, semantic, 0.5))
    assert fused["a"] == pytest.approx(0.5)
    assert fused["c"] == pytest.approx(fused["b"]) == pytest.approx(-0.5)  # the floor
    fused = dict(fuse("zscore", lexical, semantic, 0.5, unranked_lexical_is_zero=True))
    assert fused["b"] == pytest.approx(-0.5)
    assert fused["c"] == pytest.approx(-1.0)  # below b, which the lexical side did match
    # minmax: a score of 0 lies at -0.5 on the lexical list's scale (1 -> 0, 3 -> 1).
    minmax_fused = dict(fuse("minmax", lexical, semantic, 0.5, unranked_lexical_is_zero=True))
    assert minmax_fused["c"] == pytest.approx(0.5 * -0.5 + 0.5 * 1.0)
    # Only the semantic side found anything: the lexical side adds nothing.
    assert dict(fuse("zscore", [], semantic, 0.5, True)) == {"a": 0.0, "b": 0.0, "c": 0.0}


def test_a_lexical_candidate_the_semantic_side_missed_gets_its_lowest_score() -> None:
    fused = dict(fuse("zscore", [("a", 2.0), ("x", 1.0)], [("a", 0.9), ("b", 0.1)], 0.5))
    assert fused["x"] == pytest.approx(0.5 * -1.0 + 0.5 * -1.0)


def test_prose_gets_less_lexical_weight_than_keywords() -> None:
    assert lexical_weight_for(True) > lexical_weight_for(False)


def test_the_keyword_weight_follows_the_known_share_and_the_best_matchs_coverage() -> None:
    full = lexical_weight_for(True)
    assert full == KEYWORD_LEXICAL_WEIGHT
    assert lexical_weight_for(True, known_share=0.5) == pytest.approx(full / 2)
    assert lexical_weight_for(True, coverage=0.5) == pytest.approx(full / 2)
    assert lexical_weight_for(True, 0.5, 0.5) == pytest.approx(full / 4)
    assert lexical_weight_for(True, known_share=0.0) == 0.0
    # Out-of-range shares are clamped, never a negative or inflated weight.
    assert lexical_weight_for(True, known_share=1.7, coverage=-1.0) == 0.0
    assert lexical_weight_for(True, known_share=1.7) == full


def test_the_prose_weight_follows_the_root_of_the_known_share_and_ignores_coverage() -> None:
    prose = False  # the plan's shape: not keywords
    assert lexical_weight_for(prose) == PROSE_LEXICAL_WEIGHT
    assert lexical_weight_for(prose, known_share=0.25) == pytest.approx(PROSE_LEXICAL_WEIGHT / 2)
    assert lexical_weight_for(prose, coverage=0.1) == PROSE_LEXICAL_WEIGHT
