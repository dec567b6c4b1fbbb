"""From a ranking (ids and scores) to what a reader sees: stored fields, a snippet
that shows why the article matched, and scores that explain both sides.

Ranking and display are kept apart so that evaluation, cursors and export read the
same ranking without paying for snippets; only the page being shown is built here.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterator
from dataclasses import replace

from search.errors import ArticleNotFound
from search.ingest.articles import Article
from search.ingest.passages import PassageSettings, split_passages
from search.lexical.index import LexicalIndex
from search.lexical.tiers import LexicalHits
from search.retrieval.results import Hit, Ranked, Ranking, SearchResults


def build_page(
    lexical: LexicalIndex, passages: PassageSettings, ranking: Ranking, limit: int, offset: int
) -> SearchResults:
    """The hits of ``ranking`` from ``offset`` on, at most ``limit`` of them."""
    hits = []
    for item in ranking.items[offset : offset + limit]:
        hit = _hit(lexical, passages, item, ranking.terms)
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


def _hit(
    lexical: LexicalIndex, passages: PassageSettings, item: Ranked, terms: frozenset[str]
) -> Hit | None:
    try:
        article = lexical.get(item.article_id)
    except ArticleNotFound:
        return None  # deleted between ranking and display
    return Hit(
        id=article.id,
        title=article.title,
        date=article.date,
        source=article.source,
        language=article.language,
        category=article.category,
        snippet=snippet(lexical, passages, article, terms, item.passage),
        score=item.score,
        scores=item.scores,
        matched=item.matched,
        url=article.url,
    )


def snippet(
    lexical: LexicalIndex,
    settings: PassageSettings,
    article: Article,
    terms: frozenset[str],
    passage: int | None,
) -> str:
    """The passage that best explains the hit, with lexical matches marked.

    A passage holding query words wins (the reader sees why it matched); among
    those, or when none holds any, the semantic side's best passage wins.
    """
    language = article.language
    if passage is None:
        marked = lexical.highlight(article.text, terms, language)
        return marked or html.escape(_shorten(article.text))
    passages = split_passages(article, settings)
    # Mark up only the chosen passage: highlighting each one to find it cost more
    # than the rest of a query.
    mentions = [lexical.mentions(text, terms, language) for text in passages]
    best = max(range(len(passages)), key=lambda i: (mentions[i], i == passage, -i))
    marked = lexical.highlight(passages[best], terms, language, whole=True)
    return marked or html.escape(passages[best])


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


def _shorten(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
