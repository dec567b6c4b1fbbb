"""From a ranking (ids and scores) to what a reader sees: stored fields, a snippet
that shows why the article matched, and scores that explain both sides.

Ranking and display are kept apart so that evaluation, cursors and export read the
same ranking without paying for snippets; only the page being shown is built here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from search.errors import ArticleNotFound
from search.ingest.article import Article
from search.lexical.analysis import analysis_language
from search.lexical.highlight import matched_spans
from search.lexical.highlight import snippet as highlight_snippet
from search.lexical.index import LexicalIndex, ShownPassage
from search.lexical.tiers import LexicalHits
from search.retrieval.results import Hit, Ranked, Ranking, SearchResults


def build_page(lexical: LexicalIndex, ranking: Ranking, limit: int, offset: int) -> SearchResults:
    """The hits of ``ranking`` from ``offset`` on, at most ``limit`` of them."""
    hits = []
    for item in ranking.items[offset : offset + limit]:
        hit = _hit(lexical, item, ranking.terms)
        if hit is not None:
            hits.append(hit)
    return SearchResults(
        query=ranking.query,
        mode=ranking.mode,
        total=ranking.total,
        offset=offset,
        limit=limit,
        hits=hits,
        corrected_query=ranking.corrected_query,
    )


def _hit(lexical: LexicalIndex, item: Ranked, terms: frozenset[str]) -> Hit | None:
    try:
        article, passages = lexical.shown_passages(item.article_id)
    except ArticleNotFound:
        return None  # deleted between ranking and display
    return Hit(
        id=article.id,
        title=article.title,
        date=article.date,
        source=article.source,
        language=article.language,
        category=article.category,
        snippet=snippet(lexical, article, passages, terms, item.passage),
        score=item.score,
        scores=item.scores,
        matched=item.matched,
        url=article.url,
    )


def snippet(
    lexical: LexicalIndex,
    article: Article,
    passages: tuple[ShownPassage, ...],
    terms: frozenset[str],
    passage: int | None,
) -> str:
    """The passage that best explains the hit, cut to a window with its matched words.

    The passage holding the most distinct query words wins (the reader sees why it
    matched); among equals, the semantic side's best passage, then the earliest.
    The title is shown apart, so a passage that opens with it starts after it.
    """
    language = analysis_language(article.language)
    # Nothing can be marked in a passage whose words were indexed under none of the
    # query's terms: its text need not be scanned.
    spans = [
        []
        if terms.isdisjoint(shown.terms)
        else matched_spans(shown.text, terms, language, lexical.indexed_terms)
        for shown in passages
    ]
    distinct = [len({s.term for s in found}) for found in spans]
    best = max(range(len(passages)), key=lambda i: (distinct[i], i == passage, -i), default=None)
    if best is None:
        return ""
    text = passages[best].text
    return highlight_snippet(text, terms, language, lexical.indexed_terms, spans=spans[best])


def explained(hit: Hit, found: LexicalHits) -> Hit:
    """``hit`` with its lexical rank and score where it lies beyond the ranked depth.

    A hybrid hit from the semantic side may match lexically far down; the complete
    ranking named its lexical rank, so a page ranked only to its depth does too.
    """
    if hit.scores.lexical is not None:
        return hit
    at = found.explain(hit.id)
    if at is None:
        return hit
    rank, score = at
    return replace(hit, scores=replace(hit.scores, lexical=score, lexical_rank=rank))


def stored_articles(lexical: LexicalIndex, items: list[Ranked]) -> Iterator[tuple[Article, Ranked]]:
    """Each ranked item with its stored article, loaded as the iterator is read."""
    for item in items:
        with contextlib.suppress(ArticleNotFound):  # deleted since the ranking
            yield lexical.get(item.article_id), item
