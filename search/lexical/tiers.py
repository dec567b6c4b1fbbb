"""Merging a query's lexical passes into one ranking, over whole-archive score arrays.

A keyword query runs twice: every word (strict), then any word (loose); all-words
matches rank first. Each pass gives a score per document (``search.lexical.bm25``), so the
tiers are masks and the ranking needs sorting only as deep as a page reaches: at
100k articles a common word matches most of the archive, and turning every match
into a Python tuple cost more than scoring them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from search.lexical.bm25 import Scored


@dataclass(frozen=True)
class Tier:
    """The documents of one tier (in no particular order), their scores, and the lift
    that puts the tier above the next."""

    docs: np.ndarray
    scores: np.ndarray
    lift: float


class LexicalHits:
    """Ranked (article id, BM25F score) pairs, how many articles matched in all, and,
    for any article, whether it matched and where it ranks."""

    def __init__(
        self,
        ranked: list[tuple[str, float]],
        total: int,
        tiers: list[Tier],
        everything: Callable[[], np.ndarray],
        docnum_of: dict[str, int],
    ) -> None:
        self.ranked = ranked
        self.total = total
        self._tiers = tiers
        self._everything = everything
        self._all: np.ndarray | None = None
        self._matched: set[int] | None = None
        self._docnum_of = docnum_of

    def docnums(self) -> np.ndarray:
        """Every match's document number, ascending."""
        if self._all is None:
            self._all = self._everything()
        return self._all

    def matches(self, article_id: str) -> bool:
        """Whether an article matched, ranked or not."""
        docnum = self._docnum_of.get(article_id)
        if docnum is None:
            return False
        if self._matched is None:  # asked for every listed article: a set, made once
            self._matched = set(self.docnums().tolist())
        return docnum in self._matched

    def explain(self, article_id: str) -> tuple[int, float] | None:
        """The rank (from 1) and score an article has in the ranking, ranked this deep
        or not; None if it is not in it."""
        docnum = self._docnum_of.get(article_id)
        before = 0
        for tier in self._tiers:
            at = np.flatnonzero(tier.docs == docnum)
            if len(at):
                score = tier.scores[at[0]]
                ahead = (tier.scores > score) | ((tier.scores == score) & (tier.docs < docnum))
                return before + int(np.count_nonzero(ahead)) + 1, float(score + tier.lift)
            before += len(tier.docs)
        return None


def top(matched: np.ndarray, scores: np.ndarray, depth: int | None) -> np.ndarray:
    """The matching document numbers in Whoosh's order (score down, then document
    number up), the first ``depth`` of them (None: all)."""
    docs = np.flatnonzero(matched)
    if depth is not None and len(docs) > depth:
        # Everything scoring at least the depth-th best score, ties included.
        cut = np.partition(scores[docs], len(docs) - depth)[len(docs) - depth]
        docs = docs[scores[docs] >= cut]
    order = np.lexsort((docs, -scores[docs]))
    return docs[order][:depth]


def merge(
    passes: Sequence[Scored],
    allowed: np.ndarray | None,
    depth: int | None,
    first: int | None,
    ids: list[str],
    docnum_of: dict[str, int],
    counted: tuple[int, Callable[[], np.ndarray]] | None = None,
) -> LexicalHits:
    """The ranking of ``passes`` (strict first): each ranks ``depth`` documents (None:
    all), which decides the tiers and their lift; the first ``first`` are listed.

    ``counted`` gives the total and every match where ``passes`` hold only the
    ranked part of them (Whoosh's own ranking).
    """
    seen = np.zeros(len(passes[0][0]), dtype=bool)
    total = 0
    tiers: list[Tier] = []
    heads: list[np.ndarray] = []  # each tier's first documents, in order
    for matched, scores in passes:
        if allowed is not None:
            matched = matched & allowed
        total = max(total, int(np.count_nonzero(matched)))
        if depth is None:
            rest = matched & ~seen
            head = top(rest, scores, first)
            docs = np.flatnonzero(rest)
        else:
            ranked = top(matched, scores, depth)
            head = docs = ranked[~seen[ranked]]
        seen[docs] = True
        heads.append(head)
        tiers.append(Tier(docs, scores[docs], 0.0))
    loose = matched  # the last pass matches whatever an earlier one does
    # Score fusion reads the scores, so they must agree with the order: every
    # all-words hit is lifted above the best partial one.
    lift = 0.0
    for i in reversed(range(len(tiers))):
        tiers[i] = Tier(tiers[i].docs, tiers[i].scores, lift)
        if len(tiers[i].docs):
            lift = float(tiers[i].scores.max()) + lift
    limit = min((n for n in (depth, first) if n is not None), default=None)
    listed: list[tuple[str, float]] = []
    for (_matched, scores), tier, head in zip(passes, tiers, heads, strict=True):
        lifted = scores[head] + tier.lift
        listed += [(ids[d], v) for d, v in zip(head.tolist(), lifted.tolist(), strict=True)]
        if limit is not None and len(listed) >= limit:
            break
    total, everything = counted or (total, lambda: np.flatnonzero(loose))
    return LexicalHits(listed[:limit], total, tiers, everything, docnum_of)
