"""Collapsing agency copies: one hit per story, listing the story's other copies.

``collapse`` is a pure function over a ranking: the best-ranked copy of each story
stays where it ranked, the others leave the ranking and are listed in its
``duplicates``. The functions after it apply it to a search's ranking, matches and
page, and keep copies of an article out of its similar articles; the stories come
from the index's per-document columns (``search.lexical.columns``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from search.lexical.columns import Columns
    from search.lexical.index import LexicalIndex
    from search.retrieval.results import Hit, Ranking


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


def one_per_story(
    ranking: Ranking, docnums: np.ndarray, columns: Columns
) -> tuple[Ranking, np.ndarray]:
    """The ranking with one article per agency story, and the matches' documents likewise."""
    ranked = [item.article_id for item in ranking.items]
    kept = {k.id for k in collapse(ranked, columns.story_of(), {})}
    items = [item for item in ranking.items if item.article_id in kept]
    stories = columns.one_per_story(docnums)
    total = ranking.total - (len(docnums) - len(stories))
    return replace(ranking, items=items, total=total), stories


def with_copies(hits: list[Hit], lexical: LexicalIndex, columns: Columns) -> list[Hit]:
    """Each hit with the other copies of its story: id, source and date."""
    story_of = columns.story_of()
    groups = columns.story_groups()
    members: dict[str, list[Copy]] = {}
    for hit in hits:
        story = story_of.get(hit.id)
        if story is not None and story not in members:
            copies = (lexical.get(columns.ids[d]) for d in groups[story])
            members[story] = [Copy(a.id, a.source, a.date) for a in copies]
    kept = collapse([hit.id for hit in hits], story_of, members)
    return [replace(hit, duplicates=k.duplicates) for hit, k in zip(hits, kept, strict=True)]


def without_copies_of(article_id: str, ranking: Ranking, columns: Columns) -> Ranking:
    """A similar-articles ranking without the other copies of the asked article's story."""
    story_of = columns.story_of()
    story = story_of.get(article_id)
    if story is None:
        return ranking
    items = [item for item in ranking.items if story_of.get(item.article_id) != story]
    return replace(ranking, items=items, total=ranking.total - (len(ranking.items) - len(items)))
