"""Splitting articles into passages, the unit the semantic side embeds and ranks.

A whole article averaged into one vector blurs its topics; a few sentences keep one
thought each, and an article's semantic score is its best passage. The first passage
is the headline with the lead, the densest summary a news article has.

Passages are spans (character offsets) of one text per article, ``passage_source``,
computed at ingest and stored beside the article, so snippets and grounding read the
exact text that was embedded instead of splitting again. ``SPLITTER`` names the
rules; the manifest records it, since vectors depend on it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from search.ingest.article import Article

# Bump when the spans an article gets change (the index must then be rebuilt).
SPLITTER = "sentence-spans-1"
_PARAGRAPH = re.compile(r"[^\n]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"“”»«']?\s+(?=[A-ZÄÖÜ0-9\"„“»«])")

Span = tuple[int, int]


@dataclass(frozen=True)
class PassageSettings:
    """How articles are cut; recorded in the manifest because vectors depend on it."""

    max_chars: int = 500
    max_passages: int = 256
    splitter: str = SPLITTER

    def to_dict(self) -> dict[str, int | str]:
        return asdict(self)


def passage_source(article: Article) -> str:
    """The text an article's passages are spans of: title, lead and body.

    The title is left out where the lead opens with it. Where the body does, the
    first passage says it twice, as it always has: leaving it out was measured as
    mixed (better on dev, worse on two held-out batches: docs/quality.md).
    """
    title = "" if article.lead and article.lead.startswith(article.title) else article.title
    return "\n\n".join(part for part in (title, article.lead, article.body) if part)


def _sentences(text: str, longest: int) -> list[Span]:
    """Sentence spans of ``text``, none longer than ``longest`` (cut at a space)."""
    spans: list[Span] = []
    for paragraph in _PARAGRAPH.finditer(text):
        start = paragraph.start()
        for end_match in [*_SENTENCE_END.finditer(paragraph.group()), None]:
            end = paragraph.start() + end_match.start() if end_match else paragraph.end()
            while end - start > longest:
                cut = text.rfind(" ", start + 1, start + longest)
                cut = cut if cut > start else start + longest
                spans.append((start, cut))
                start = cut + 1 if text[cut : cut + 1] == " " else cut
            if text[start:end].strip():
                spans.append((start, end))
            if end_match:
                start = paragraph.start() + end_match.end()
    return spans


def passage_spans(article: Article, settings: PassageSettings) -> list[Span]:
    """The passages of one article as spans of ``passage_source``, each about
    ``max_chars`` long at most.

    The first passage holds the headline and lead whole (up to twice ``max_chars``)
    and is topped up with body sentences: a bare dateline headline ("Brüssel:")
    alone would match any query naming the place better than the article that
    reports from there.
    """
    text = passage_source(article)
    head_end = len(text) - len(article.body) if article.body else len(text)
    spans: list[Span] = []
    current: Span | None = None
    for start, end in _sentences(text, settings.max_chars * 2):
        if current is None:
            current = (start, end)
        elif end <= head_end and end - current[0] <= settings.max_chars * 2:
            current = (current[0], end)
        elif end - current[0] > settings.max_chars:
            spans.append(current)
            current = (start, end)
        else:
            current = (current[0], end)
        if len(spans) >= settings.max_passages:
            break
    if current is not None and len(spans) < settings.max_passages:
        spans.append(current)
    return spans


def split_passages(article: Article, settings: PassageSettings) -> list[str]:
    """The passage texts of one article (what the embedder reads)."""
    text = passage_source(article)
    return [text[start:end] for start, end in passage_spans(article, settings)]
