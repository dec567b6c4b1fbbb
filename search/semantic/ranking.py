"""Ranking whole articles by meaning, from passage vectors.

Three views of an article complement each other: its best passage finds the one
paragraph that answers a pointed question, its centroid (the mean of all passages)
matches a query that paraphrases the whole story, and its lead (the first passage:
headline and lead, the inverted pyramid's summary) matches a query that retells
what the story is about. Scores blend them; on the 10kGNAD dev queries and the
cross-lingual WMT task the blend beat every single view (see docs/quality.md).

Keyword queries name what they want, often something deep in a story, so their best
passage decides, unless the archive does not know their words (English keywords
over a German archive): then the words cannot point at a passage, only at the gist
of a story, and the lead gains weight with the share of unknown words.

"More like this" compares centroids after removing what all articles share (the
archive's mean vector), which otherwise makes every article look alike, and expands
the example with its nearest neighbours (query expansion), which steadies the topic.
Then it asks the neighbourhood: two articles whose own nearest neighbours overlap
are about the same thing even when their vectors differ in wording (shared-nearest-
neighbour similarity), which lifts same-topic articles over merely close ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.semantic.neighbours import NeighbourTable
from search.semantic.sharded import ShardedVectors
from search.semantic.vectors import SemanticHit


@dataclass(frozen=True)
class SemanticSettings:
    """Blend of best passage, lead and centroid, and how wide candidates are gathered.

    For prose the centroid gets what passage and lead leave; keyword queries blend
    passage and lead only.
    """

    # An article matches by meaning when its best passage is more similar than this
    # to the query (cosine); chosen on the dev queries (docs/quality.md).
    match_threshold: float = 0.32
    passage_weight: float = 0.4
    lead_weight: float = 0.1
    # The lead's share for keywords none of which the archive knows; it scales with
    # the unknown share and is 0 for keywords the archive uses.
    foreign_keyword_lead_weight: float = 0.3
    candidate_factor: int = 3
    min_candidates: int = 100
    expansion_neighbours: int = 3
    expansion_weight: float = 0.5
    # Shared-nearest-neighbour re-ranking: the cosine's share of the score; the
    # overlap of neighbourhoods (search/semantic/neighbours.py) has the rest.
    shared_cosine_weight: float = 0.4
    # Re-ranking by neighbourhoods can lift an article from deep in the candidates.
    similar_min_candidates: int = 200


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def rank_articles(
    vectors: ShardedVectors,
    query: np.ndarray,
    depth: int,
    settings: SemanticSettings,
    exclude: frozenset[str] = frozenset(),
    keywords: bool = False,
    known_share: float = 1.0,
    threshold: float | None = None,
) -> tuple[list[SemanticHit], dict[str, SemanticHit]]:
    """The ``depth`` articles with the best blend of passage, lead and centroid
    similarity, and (for a ``threshold``) every article whose best passage is more
    similar than that: the semantic matches, found in the same pass over the shards.

    ``keywords`` says the query is a few keywords rather than prose; ``known_share``
    is the share of its terms the archive uses (``engine.known_share``).
    """
    wanted = max(depth * settings.candidate_factor, settings.min_candidates)
    candidates, matches = vectors.nearest(query, wanted, threshold, exclude)
    if not candidates:
        return [], matches
    if keywords:
        lead = settings.foreign_keyword_lead_weight * (1 - known_share)
        passage, centroid = 1 - lead, 0.0
    else:
        passage, lead = settings.passage_weight, settings.lead_weight
        centroid = 1 - passage - lead
    views = np.zeros(len(candidates), dtype=np.float32)
    if lead:
        views += lead * (vectors.leads([h.article_id for h in candidates]) @ query)
    if centroid:
        views += centroid * (
            np.vstack([vectors.centroid(h.article_id) for h in candidates]) @ query
        )
    blended = [
        SemanticHit(hit.article_id, passage * hit.score + float(view), hit.passage)
        for hit, view in zip(candidates, views, strict=True)
    ]
    return sorted(blended, key=lambda hit: -hit.score)[:depth], matches


def rank_like(
    vectors: ShardedVectors,
    article_id: str,
    depth: int,
    settings: SemanticSettings,
    exclude: frozenset[str] = frozenset(),
    neighbours: NeighbourTable | None = None,
) -> list[SemanticHit]:
    """Articles most like a stored one (never itself), by centred, expanded centroids,
    re-ranked by shared neighbours when a ``neighbours`` table is given."""
    example = vectors.centroid(article_id)
    wanted = max(depth * settings.candidate_factor, settings.similar_min_candidates)
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
    if neighbours is not None:
        overlap = neighbours.shared(article_id, [hit.article_id for hit in candidates])
        weight = settings.shared_cosine_weight
        scores = weight * scores + (1 - weight) * overlap
    order = np.argsort(-scores)[:depth]
    return [
        SemanticHit(candidates[i].article_id, float(scores[i]), candidates[i].passage)
        for i in order
    ]
