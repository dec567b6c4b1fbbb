"""Collapsing agency copies: one hit per story, listing the story's other copies.

A pure function over a ranking, so the query plan can apply it wherever a ranking
becomes hits: the best-ranked copy of each story stays where it ranked, the others
leave the ranking and are listed in its ``duplicates``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Copy:
    """Another copy of a story: which article, from which outlet, of when."""

    id: str
    source: str | None
    date: str | None


@dataclass(frozen=True)
class Kept:
    """A hit that stays, with the other copies of its story (empty for a lone article)."""

    id: str
    duplicates: tuple[Copy, ...] = ()


def collapse(
    ranked: Iterable[str],
    story_of: Mapping[str, str],
    members: Mapping[str, Sequence[Copy]],
) -> list[Kept]:
    """Keep the first-ranked article of each story; list the story's other copies with it.

    ``story_of`` maps an article to its story (an article it lacks is its own story);
    ``members`` maps a story to all its copies in the archive, ranked or not.
    """
    seen: set[str] = set()
    kept: list[Kept] = []
    for article_id in ranked:
        story = story_of.get(article_id, article_id)
        if story in seen:
            continue
        seen.add(story)
        others = tuple(c for c in members.get(story, ()) if c.id != article_id)
        kept.append(Kept(article_id, others))
    return kept
