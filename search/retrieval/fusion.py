"""Fusion: merging the lexical and the semantic ranking into one.

Pure functions over ranked lists, so each rule can be checked by hand on tiny inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def _minmax_scale(values: Sequence[float]) -> Callable[[float], float]:
    """The map that normalises a list's scores; as a function it also places a score
    the list lacks (fusion needs where a zero lands)."""
    low, high = min(values), max(values)
    if high == low:
        return lambda value: 1.0 if value >= high else 0.0
    return lambda value: (value - low) / (high - low)


def _zscore_scale(values: Sequence[float]) -> Callable[[float], float]:
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if spread == 0:
        return lambda _value: 0.0
    return lambda value: (value - mean) / spread


def _normalised(
    scores: dict[str, float], scale: Callable[[Sequence[float]], Callable[[float], float]]
) -> dict[str, float]:
    if not scores:
        return {}
    to_scale = scale(list(scores.values()))
    return {item: to_scale(value) for item, value in scores.items()}


def minmax(scores: dict[str, float]) -> dict[str, float]:
    """Scale scores to [0, 1] by the list's own min and max (all equal -> all 1)."""
    return _normalised(scores, _minmax_scale)


def zscore(scores: dict[str, float]) -> dict[str, float]:
    """Standardise scores by the list's mean and standard deviation (all equal -> all 0)."""
    return _normalised(scores, _zscore_scale)


_SCALES = {"zscore": _zscore_scale, "minmax": _minmax_scale}


def weighted_sum(
    score_maps: Sequence[dict[str, float]],
    weights: Sequence[float],
    floors: Sequence[float | None] | None = None,
) -> list[tuple[str, float]]:
    """Sum each item's weighted (already normalised) scores.

    A list missing an item adds its floor for it: by default (or where a floor is
    None) the list's own minimum.
    """
    if len(weights) != len(score_maps):
        raise ValueError("one weight per score list")
    given = floors if floors is not None else [None] * len(score_maps)
    if len(given) != len(score_maps):
        raise ValueError("one floor per score list")
    floors = [
        min(m.values(), default=0.0) if floor is None else floor
        for m, floor in zip(score_maps, given, strict=True)
    ]
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
# The lexical side's share in score fusion, by query shape, when it sees the whole
# query. Prose paraphrases, where exact words say less. For keywords the lexical
# side is the surer one when its best match holds every word (on 10kGNAD it ranked
# the target first in 83 of 83 such queries), and a poor one when it matches a name
# or two of an English query over German news: its share follows how much of the
# query its best match holds (docs/quality.md has the measurements).
KEYWORD_LEXICAL_WEIGHT = 0.75
PROSE_LEXICAL_WEIGHT = 0.22


def lexical_weight_for(keywords: bool, known_share: float = 1.0, coverage: float = 1.0) -> float:
    """The lexical share for a query: keywords by how much of them the lexical side
    matched, prose less and more evenly (``keywords``: the plan's query shape).

    ``known_share`` is the share of the query's terms the archive uses at all: words
    it never uses (English ones over a German archive) leave the lexical side
    ranking on what is left of the query. ``coverage`` is the share of a keyword
    query's words that the lexical side's best match holds; a query whose words no
    single article holds together is one the lexical side only half understood.
    Prose reads the known share through a square root: a long query loses a few
    words to the archive without losing its sense.
    """
    known = min(max(known_share, 0.0), 1.0)
    if keywords:
        return KEYWORD_LEXICAL_WEIGHT * known * min(max(coverage, 0.0), 1.0)
    return PROSE_LEXICAL_WEIGHT * known**0.5


def fuse(
    method: str,
    lexical: Sequence[tuple[str, float]],
    semantic: Sequence[tuple[str, float]],
    lexical_weight: float,
    unranked_lexical_is_zero: bool = False,
) -> list[tuple[str, float]]:
    """Merge a lexical and a semantic ranking by the named method.

    ``zscore`` and ``minmax`` put each side's scores on one scale and add them with
    ``lexical_weight`` and its complement; ``rrf`` uses ranks only, equally weighted.

    A candidate one side did not rank gets that list's lowest score, or, with
    ``unranked_lexical_is_zero``, on the lexical side what an article matching no
    query word scores (0 on that side's scale). The engine asks for the zero for
    prose: the lexical side ranks its 100 best of many partial matches, and an
    article outside them holds a word or two of the query at best, so lifting it
    to the hundredth match's score ranked articles the lexical side never saw above
    ones it ranked well. For keywords the lowest score stays: the article that
    answers a few keywords often lacks some of them (another language, a synonym),
    and missing them must not cost more than coming last (docs/quality.md).
    """
    if method == "rrf":
        return reciprocal_rank_fusion([[i for i, _ in lexical], [i for i, _ in semantic]])
    if method not in _SCALES:
        raise ValueError(f"unknown fusion {method!r}")
    scale = _SCALES[method]
    lexical_scores = dict(lexical)
    lexical_floor = None
    if unranked_lexical_is_zero and lexical_scores:
        lexical_floor = scale(list(lexical_scores.values()))(0.0)
    return weighted_sum(
        [_normalised(lexical_scores, scale), _normalised(dict(semantic), scale)],
        [lexical_weight, 1 - lexical_weight],
        [lexical_floor, None],
    )
