"""Fusion: merging the lexical and the semantic ranking into one.

Pure functions over ranked lists, so each rule can be checked by hand on tiny inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from search.query import is_keyword_text

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Score each id by sum(w / (k + rank)) over the rankings it appears in (rank from 1)."""
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def minmax(scores: dict[str, float]) -> dict[str, float]:
    """Scale scores to [0, 1] by the list's own min and max (all equal -> all 1)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return dict.fromkeys(scores, 1.0)
    return {item: (value - low) / (high - low) for item, value in scores.items()}


def zscore(scores: dict[str, float]) -> dict[str, float]:
    """Standardise scores by the list's mean and standard deviation (all equal -> all 0)."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if spread == 0:
        return dict.fromkeys(scores, 0.0)
    return {item: (value - mean) / spread for item, value in scores.items()}


def weighted_sum(
    score_maps: Sequence[dict[str, float]], weights: Sequence[float]
) -> list[tuple[str, float]]:
    """Sum each item's weighted (already normalised) scores; a list missing it adds its minimum."""
    if len(weights) != len(score_maps):
        raise ValueError("one weight per score list")
    floors = [min(m.values(), default=0.0) for m in score_maps]
    items = set().union(*score_maps)
    fused = {
        item: sum(
            w * m.get(item, floor) for m, w, floor in zip(score_maps, weights, floors, strict=True)
        )
        for item in items
    }
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


FUSIONS = ("zscore", "minmax", "rrf")
DEFAULT_FUSION = "zscore"
# The lexical side's share in score fusion, by query shape. Keywords name what they
# want and the lexical side is strong on them; prose paraphrases, where exact words
# say less. Chosen on the 10kGNAD dev queries and the WMT cross-lingual task together
# (docs/quality.md); the semantic side is the stronger one on every type but German
# keywords, so it always carries most of the weight.
KEYWORD_LEXICAL_WEIGHT = 0.3
PROSE_LEXICAL_WEIGHT = 0.25
LEXICAL_WEIGHT = KEYWORD_LEXICAL_WEIGHT


def lexical_weight_for(query: str, known_share: float = 1.0) -> float:
    """The lexical share for a query: more for a few keywords, less for prose.

    ``known_share``, the share of the query's terms the archive uses at all, scales
    it: words the archive never uses (English ones over a German archive) leave the
    lexical side ranking on what is left of the query, and it deserves that much
    less trust.
    """
    base = KEYWORD_LEXICAL_WEIGHT if is_keyword_text(query) else PROSE_LEXICAL_WEIGHT
    return base * min(max(known_share, 0.0), 1.0)


def fuse(
    method: str,
    lexical: Sequence[tuple[str, float]],
    semantic: Sequence[tuple[str, float]],
    lexical_weight: float = LEXICAL_WEIGHT,
) -> list[tuple[str, float]]:
    """Merge a lexical and a semantic ranking by the named method.

    ``zscore`` and ``minmax`` put each side's scores on one scale and add them with
    ``lexical_weight`` and its complement; ``rrf`` uses ranks only, equally weighted.
    """
    if method == "rrf":
        return reciprocal_rank_fusion([[i for i, _ in lexical], [i for i, _ in semantic]])
    if method not in ("zscore", "minmax"):
        raise ValueError(f"unknown fusion {method!r}")
    normalise = zscore if method == "zscore" else minmax
    return weighted_sum(
        [normalise(dict(lexical)), normalise(dict(semantic))],
        [lexical_weight, 1 - lexical_weight],
    )
