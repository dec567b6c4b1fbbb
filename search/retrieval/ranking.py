"""From a query plan to one ranked list of matches, in every mode.

What a "match" is decides every number a reader sees, so it is defined once here:

- lexically, an article the parsed query matches (any word, for plain keywords);
- semantically, an article whose best passage is at least ``match_threshold``
  similar to the query (a calibrated cosine: docs/quality.md): on an exact shard
  every such passage (a range search), so the set does not depend on a top-k cut;
  on a graph shard those among the candidates its walk keeps (Elasticsearch's kNN
  ``num_candidates`` with a ``similarity`` floor);
- either way, only among articles that meet the plan's constraints (filters, the
  query's ``NOT`` and value fields), applied to both sides.

A mode's matches are its side's, hybrid's the union. The list ranks them all:
first the fused candidates (each side's best ``depth``), then the remaining
matches in their side's order, so ``total``, facets and paging count exactly the
articles the list holds, and a facet's count is what clicking it returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from search.errors import QueryError
from search.lexical.parse import shorten
from search.lexical.tiers import LexicalHits
from search.retrieval.filters import Filters
from search.retrieval.fusion import fuse, lexical_weight_for
from search.retrieval.plan import QueryPlan, is_keyword_text
from search.retrieval.results import Matched, Ranked, Ranking, Scores, ShardCounts, Sort
from search.semantic.grounding import ExpansionSettings, ground_query_vector
from search.semantic.ranking import SemanticSettings, rank_articles, rank_like
from search.semantic.sharded import ShardedVectors
from search.semantic.vectors import SemanticHit
from search.storage.generations import Generation

CANDIDATE_DEPTH = 100
# A similar-articles list holds this many, best first (Elasticsearch's kNN ``k``).
SIMILAR_DEPTH = 100


@dataclass(frozen=True)
class Matches:
    """Every article a plan matched, by side, as document numbers of the lexical index."""

    lexical: LexicalHits | None
    semantic: dict[str, SemanticHit]
    semantic_docnums: np.ndarray

    def docnums(self) -> np.ndarray:
        """Every match's document number, ascending, each once."""
        lexical = self.lexical.docnums() if self.lexical is not None else np.zeros(0, np.int64)
        return np.union1d(lexical, self.semantic_docnums).astype(np.int64)

    def matched(self, article_id: str) -> Matched | None:
        by_words = self.lexical is not None and self.lexical.matches(article_id)
        by_meaning = article_id in self.semantic
        if by_words and by_meaning:
            return "both"
        return "keywords" if by_words else "meaning" if by_meaning else None


def unit_score(fused: float) -> float:
    """A z-score fusion's sum on 0..1: the logistic function, so 0.5 is the candidates'
    average and order is kept (docs/quality.md)."""
    return 1.0 / (1.0 + math.exp(-fused))


def rank(
    plan: QueryPlan,
    generation: Generation,
    embed: Callable[[str], np.ndarray],
    semantic: SemanticSettings,
    expansion: ExpansionSettings,
    fusion: str,
    sort: Sort,
    depth: int = CANDIDATE_DEPTH,
    reach: int | None = None,
) -> tuple[Ranking, Matches]:
    """Rank every match of ``plan``; the list stops after ``reach`` (None: all of them).

    ``total`` counts every match either way; ranking by date needs the whole list.
    """
    lexical = generation.lexical
    if not plan.text:
        empty = Matches(None, {}, np.zeros(0, np.int64))
        return Ranking(plan.text, plan.mode, 0, [], frozenset(), plan.corrected), empty
    allowed = lexical.allowed(plan.constraints)
    fan_out = FanOut(generation, allowed)
    found: LexicalHits | None = None
    if plan.lexical and plan.parsed is not None:
        # Fusion reads each side's best ``depth``, however short the page.
        first = None if reach is None else max(reach, depth)
        found = lexical.search(plan.parsed, None, allowed, first=first, failed=fan_out.offsets)
    scored: list[SemanticHit] = []
    within: dict[str, SemanticHit] = {}
    if plan.semantic:
        vector = query_vector(plan, generation, embed, expansion)
        outside = lexical.outside(allowed)
        vectors = fan_out.vectors()
        scored, within = rank_articles(
            vectors,
            vector,
            depth,
            semantic,
            outside,
            plan.keywords,
            plan.known_share,
            semantic.match_threshold,
        )
    columns = lexical.columns()
    matches = Matches(found, within, np.sort(columns.docnums(within)))
    lexical_ranked = found.ranked if found is not None else []
    fused: set[str] = set()
    if plan.mode == "lexical":
        ranked = lexical_ranked
        total = found.total if found is not None else 0
    elif plan.mode == "semantic":
        ranked = _semantic_order(scored, within)
        total = len(within)
    else:
        ranked, fused = _hybrid_order(
            plan, generation, fusion, depth, lexical_ranked, scored, matches
        )
        total = len(matches.docnums())
    if sort != "relevance":
        order = columns.by_date(
            [article_id for article_id, _ in ranked], newest_first=sort == "date"
        )
        ranked = [ranked[i] for i in order]
    # Explaining every match is Python work per match: tens of thousands where a
    # common query matches much of a large archive.
    items = _explained(ranked[:reach], fused, lexical_ranked, scored, matches)
    terms = plan.terms
    counts = fan_out.counts()
    return Ranking(plan.text, plan.mode, total, items, terms, plan.corrected, counts), matches


class FanOut:
    """The shards one search reads: those holding an article the constraints allow
    (the others are skipped, unread), and those that failed to answer."""

    def __init__(self, generation: Generation, allowed: np.ndarray | None) -> None:
        self._generation = generation
        count = len(generation.shards)
        self.searched = [
            i for i in range(count) if allowed is None or allowed[generation.shard_docs(i)].any()
        ]
        self.total = count
        # First document numbers of lexical segments that failed, and shards whose
        # vectors failed.
        self.offsets: list[int] = []
        self.failed: set[int] = set()

    def vectors(self) -> ShardedVectors:
        return self._generation.vectors.searching(self.searched, self.failed)

    def counts(self) -> ShardCounts:
        starts = self._generation.shard_starts
        failed = self.failed | {
            int(np.searchsorted(starts, offset, side="right")) - 1 for offset in self.offsets
        }
        searched = len(self.searched)
        return ShardCounts(self.total, searched - len(failed), self.total - searched, len(failed))


def query_vector(
    plan: QueryPlan,
    generation: Generation,
    embed: Callable[[str], np.ndarray],
    expansion: ExpansionSettings,
) -> np.ndarray:
    """The plan's text embedded, then grounded in the archive's use of its rare words."""
    vector = embed(plan.semantic_text)
    if plan.parsed is None:
        return vector
    return ground_query_vector(
        vector,
        plan.parsed,
        plan.keywords,
        generation.lexical,
        generation.vectors,
        expansion,
    )


def _monotone(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Scores that never rise down the list: each at most the one above it."""
    if not ranked:
        return []
    ids, scores = zip(*ranked, strict=True)
    ceilings = np.minimum.accumulate(np.array(scores, dtype=np.float64)).tolist()
    return list(zip(ids, ceilings, strict=True))


def _semantic_order(
    scored: list[SemanticHit], within: dict[str, SemanticHit]
) -> list[tuple[str, float]]:
    """The blended candidates that match, then the other matches by their best passage."""
    head = [(h.article_id, h.score) for h in scored if h.article_id in within]
    seen = {article_id for article_id, _ in head}
    rest = sorted((h for a, h in within.items() if a not in seen), key=lambda h: -h.score)
    return _monotone(head + [(h.article_id, h.score) for h in rest])


def _hybrid_order(
    plan: QueryPlan,
    generation: Generation,
    fusion: str,
    depth: int,
    lexical_ranked: list[tuple[str, float]],
    scored: list[SemanticHit],
    matches: Matches,
) -> tuple[list[tuple[str, float]], set[str]]:
    """Fused candidates that match, then the remaining lexical, then semantic matches;
    and which of them have a fused score.

    Fusion normalises over each side's best ``depth`` as measured (docs/quality.md),
    non-matching semantic candidates included; only matches are listed.
    """
    coverage = 1.0  # read for keyword queries only
    if plan.keywords and plan.parsed is not None:
        best = lexical_ranked[0][0] if lexical_ranked else None
        coverage = generation.lexical.coverage(plan.parsed, best) if best else 0.0
    fused = fuse(
        fusion,
        lexical_ranked[:depth],
        [(h.article_id, h.score) for h in scored],
        lexical_weight_for(plan.keywords, plan.known_share, coverage),
        unranked_lexical_is_zero=not plan.keywords,
    )
    to_unit = unit_score if fusion == "zscore" else float
    head = [(a, to_unit(s)) for a, s in fused if matches.matched(a) is not None]
    # Beyond the candidates no fused score was computed: they rank below the last.
    floor = head[-1][1] if head else 0.0
    seen = {a for a, _ in head}
    tail = [(a, floor) for a, _ in lexical_ranked if a not in seen]
    seen |= {a for a, _ in tail}
    rest = sorted((h for a, h in matches.semantic.items() if a not in seen), key=lambda h: -h.score)
    return _monotone(head + tail + [(h.article_id, floor) for h in rest]), seen - {
        a for a, _ in tail
    }


def _explained(
    ranked: list[tuple[str, float]],
    fused: set[str],
    lexical_ranked: list[tuple[str, float]],
    scored: list[SemanticHit],
    matches: Matches,
) -> list[Ranked]:
    """Each listed article with both sides' scores and ranks, and how it matched."""
    lexical_at = {a: (rank, score) for rank, (a, score) in enumerate(lexical_ranked, 1)}
    semantic_at = {h.article_id: (rank, h) for rank, h in enumerate(scored, 1)}
    items = []
    for article_id, score in ranked:
        lex = lexical_at.get(article_id)
        sem = semantic_at.get(article_id)
        hit = sem[1] if sem else matches.semantic.get(article_id)
        scores = Scores(
            lexical=lex[1] if lex else None,
            semantic=hit.score if hit else None,
            fused=score if article_id in fused else None,
            lexical_rank=lex[0] if lex else None,
            semantic_rank=sem[0] if sem else None,
        )
        matched = matches.matched(article_id) or "keywords"
        items.append(Ranked(article_id, score, scores, hit.passage if hit else None, matched))
    return items


def rank_similar(
    generation: Generation,
    embed: Callable[[str], np.ndarray],
    settings: SemanticSettings,
    article_id: str | None,
    text: str | None,
    depth: int = SIMILAR_DEPTH,
    filters: Filters | None = None,
) -> Ranking:
    """The ``depth`` articles closest in meaning to a stored article (never itself) or
    to a text (any text: a pasted article is shortened to ``MAX_QUERY_CHARS``)."""
    if (article_id is None) == (text is None):
        raise QueryError("give either an article id or a text, not both or neither")
    lexical = generation.lexical
    where = filters.query() if filters else None
    allowed = lexical.allowed([where] if where is not None else [])
    exclude = lexical.outside(allowed)
    fan_out = FanOut(generation, allowed)
    vectors = fan_out.vectors()
    if article_id is not None:
        lexical.get(article_id)  # raises ArticleNotFound for an unknown id
        label = article_id
        found = rank_like(vectors, article_id, depth, settings, exclude, generation.neighbours)
    else:
        if not isinstance(text, str):
            raise QueryError(f"text must be text, not {type(text).__name__}")
        label = shorten(" ".join(text.split()))
        if not label:
            return Ranking(label, "semantic", 0, [], frozenset())
        found, _ = rank_articles(
            vectors, embed(label), depth, settings, exclude, is_keyword_text(label)
        )
    ranked = _monotone([(hit.article_id, hit.score) for hit in found])
    items = [
        Ranked(aid, score, Scores(semantic=hit.score, semantic_rank=rank), hit.passage, "meaning")
        for rank, ((aid, score), hit) in enumerate(zip(ranked, found, strict=True), start=1)
    ]
    return Ranking(label, "semantic", len(items), items, frozenset(), shards=fan_out.counts())
