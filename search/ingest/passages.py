"""Splitting articles into passages, the unit the semantic side embeds and ranks.

A whole article averaged into one vector blurs its topics; a few sentences keep one
thought each, and an article's semantic score is its best passage. The first passage
is the headline with the lead, the densest summary a news article has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from search.ingest.articles import Article, split_sentences


@dataclass(frozen=True)
class PassageSettings:
    """How articles are cut; recorded in the manifest because vectors depend on it."""

    max_chars: int = 500
    max_passages: int = 256

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def split_passages(article: Article, settings: PassageSettings) -> list[str]:
    """The passages of one article, each at most about ``max_chars`` long.

    The first passage opens with the headline and lead and is topped up with body
    sentences: a bare dateline headline ("Brüssel:") alone would match any query
    naming the place better than the article that reports from there.
    """
    head = article.title
    if article.lead:
        head = (
            article.lead
            if article.lead.startswith(article.title)
            else (f"{article.title}. {article.lead}")
        )
    passages: list[str] = []
    current = head[: settings.max_chars * 2]
    for sentence in split_sentences(article.body):
        if len(passages) >= settings.max_passages:
            break
        sentence = sentence[: settings.max_chars * 2]
        if current and len(current) + 1 + len(sentence) > settings.max_chars:
            passages.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current and len(passages) < settings.max_passages:
        passages.append(current)
    return passages
