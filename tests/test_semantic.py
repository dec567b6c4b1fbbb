"""Semantic ranking on hand-made vectors: the views of an article, and neighbourhoods."""

from __future__ import annotations

import numpy as np
import pytest

from search.semantic.ranking import SemanticSettings, rank_articles
from search.semantic.sharded import ShardedVectors
from search.semantic.vectors import VectorIndex


def _unit(*rows: list[float]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture
def lead_or_deep() -> ShardedVectors:
    """Two articles with an equally good best passage: one in its lead, one deep inside."""
    index = VectorIndex(3)
    index.add("lead", _unit([1, 0.1, 0], [0, 1, 0], [0, 0, 1]))
    index.add("deep", _unit([0, 1, 0], [0, 0, 1], [1, 0.1, 0]))
    return ShardedVectors([index])


def test_known_keywords_rank_by_best_passage_alone(lead_or_deep: ShardedVectors) -> None:
    query = _unit([1, 0.1, 0])[0]
    hits, _ = rank_articles(lead_or_deep, query, 2, SemanticSettings(), keywords=True)
    assert hits[0].score == pytest.approx(hits[1].score)


def test_foreign_keywords_lean_on_the_lead(lead_or_deep: ShardedVectors) -> None:
    query = _unit([1, 0.1, 0])[0]
    settings = SemanticSettings()
    hits, _ = rank_articles(lead_or_deep, query, 2, settings, keywords=True, known_share=0.0)
    assert [h.article_id for h in hits] == ["lead", "deep"]
    deep_lead_cosine = float(_unit([0, 1, 0])[0] @ query)
    lead = settings.foreign_keyword_lead_weight
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[1].score == pytest.approx((1 - lead) + lead * deep_lead_cosine, abs=1e-5)


def test_prose_blends_passage_lead_and_centroid(lead_or_deep: ShardedVectors) -> None:
    query = _unit([1, 0.1, 0])[0]
    settings = SemanticSettings()
    hits = {h.article_id: h.score for h in rank_articles(lead_or_deep, query, 2, settings)[0]}
    centroid = lead_or_deep.centroid("deep") @ query
    expected = (
        settings.passage_weight * 1.0
        + settings.lead_weight * float(_unit([0, 1, 0])[0] @ query)
        + (1 - settings.passage_weight - settings.lead_weight) * float(centroid)
    )
    assert hits["deep"] == pytest.approx(expected, abs=1e-5)
    assert hits["lead"] > hits["deep"]
