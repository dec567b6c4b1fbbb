"""Ranking whole articles by meaning, from passage vectors.

Two views of an article complement each other: its best passage finds the one
paragraph that answers a pointed question, its centroid (the mean of all passages)
matches a query that paraphrases the whole story. Scores blend both; on the 10kGNAD
dev queries the blend beat either view alone (see docs/quality.md).

"More like this" compares centroids after removing what all articles share (the
archive's mean vector), which otherwise makes every article look alike, and expands
the example with its nearest neighbours (query expansion), which steadies the topic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.vectors import SemanticHit, VectorIndex


@dataclass(frozen=True)
class SemanticSettings:
    """Blend of best passage and centroid, and how wide candidates are gathered."""

    passage_weight: float = 0.5
    # A few keywords point at a passage, not a whole story: for them the best
    # passage alone decides.
    keyword_passage_weight: float = 1.0
    candidate_factor: int = 3
    min_candidates: int = 100
    expansion_neighbours: int = 3
    expansion_weight: float = 0.5


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def rank_articles(
    vectors: VectorIndex,
    query: np.ndarray,
    depth: int,
    settings: SemanticSettings,
    exclude: frozenset[str] = frozenset(),
    keywords: bool = False,
) -> list[SemanticHit]:
    """The ``depth`` articles with the best blend of passage and centroid similarity.

    ``keywords`` says the query is a few keywords rather than prose.
    """
    wanted = max(depth * settings.candidate_factor, settings.min_candidates)
    candidates = vectors.search(query, wanted, exclude=exclude)
    if not candidates:
        return []
    centroids = np.vstack([vectors.centroid(hit.article_id) for hit in candidates])
    whole = centroids @ query
    weight = settings.keyword_passage_weight if keywords else settings.passage_weight
    blended = [
        SemanticHit(hit.article_id, weight * hit.score + (1 - weight) * float(score), hit.passage)
        for hit, score in zip(candidates, whole, strict=True)
    ]
    return sorted(blended, key=lambda hit: -hit.score)[:depth]


def rank_like(
    vectors: VectorIndex,
    article_id: str,
    depth: int,
    settings: SemanticSettings,
    exclude: frozenset[str] = frozenset(),
) -> list[SemanticHit]:
    """Articles most like a stored one (never itself), by centred, expanded centroids."""
    example = vectors.centroid(article_id)
    wanted = max(depth * settings.candidate_factor, settings.min_candidates)
    candidates = vectors.search(example, wanted, exclude=exclude | {article_id})
    if not candidates:
        return []
    mean = vectors.mean_centroid()
    centred = _unit(np.vstack([vectors.centroid(h.article_id) for h in candidates]) - mean)
    query = _unit(example - mean)
    first = centred @ query
    nearest = np.argsort(-first)[: settings.expansion_neighbours]
    query = _unit(query + settings.expansion_weight * centred[nearest].sum(axis=0))
    scores = centred @ query
    order = np.argsort(-scores)[:depth]
    return [
        SemanticHit(candidates[i].article_id, float(scores[i]), candidates[i].passage)
        for i in order
    ]
