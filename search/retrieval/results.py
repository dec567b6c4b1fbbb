"""Result shapes: the same Hit and SearchResults in every mode."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from search.retrieval.collapse import Copy
from search.retrieval.facets import Facets

Mode = Literal["hybrid", "lexical", "semantic"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "semantic")
# "date" is newest first, the order a newsroom reads in; "date_asc" oldest first.
Sort = Literal["relevance", "date", "date_asc"]
SORTS: tuple[Sort, ...] = ("relevance", "date", "date_asc")
# How a hit matched: by its words (the lexical side), by its meaning (the semantic
# side, above the match threshold), or both.
Matched = Literal["keywords", "meaning", "both"]


@dataclass(frozen=True)
class Scores:
    """Why a hit ranks where it does; a side that did not find the article is None."""

    lexical: float | None = None
    semantic: float | None = None
    fused: float | None = None
    lexical_rank: int | None = None
    semantic_rank: int | None = None


@dataclass(frozen=True)
class ShardCounts:
    """Which shards a search used (Elasticsearch's ``_shards``): ``skipped`` ones hold
    nothing the constraints allow and were not read; ``failed`` ones could not be
    read, and the hits come from the others."""

    total: int = 0
    successful: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Ranked:
    """An article's place in a ranking, before it is dressed up as a Hit."""

    article_id: str
    score: float
    scores: Scores
    passage: int | None
    matched: Matched = "keywords"


@dataclass(frozen=True)
class Ranking:
    """A full ranking (up to its depth) with what display needs: the query's terms."""

    query: str
    mode: Mode
    total: int
    items: list[Ranked]
    terms: frozenset[str]
    corrected_query: str | None = None
    shards: ShardCounts = ShardCounts()


@dataclass(frozen=True)
class Hit:
    """One ranked article with a display snippet (HTML-escaped, matches in ``<mark>``)."""

    id: str
    title: str
    date: str | None
    source: str | None
    language: str | None
    category: str | None
    snippet: str
    score: float
    scores: Scores
    matched: Matched = "keywords"
    url: str | None = None
    # Other copies of this hit's agency story (search.retrieval.collapse).
    duplicates: tuple[Copy, ...] = ()


@dataclass(frozen=True)
class SearchResults:
    """One page of hits; ``total`` counts every article the query matched.

    ``corrected_query`` is the spelling-corrected query that was searched instead of
    ``query`` (None when no word needed it).
    ``next`` is the cursor of the following page (None on the last one); ``facets``
    count the same matches as ``total`` when they were asked for.
    ``interpreted_as`` is how the query was read where that differs from what was
    typed (stray syntax read as words, a long text shortened); ``notices`` say why,
    one sentence each, for the page to show. ``timed_out`` says the time budget ran
    out and the hits are what was found by then (Elasticsearch's convention);
    ``shards`` which shards answered.
    """

    query: str
    mode: Mode
    total: int
    offset: int
    limit: int
    hits: list[Hit] = field(default_factory=list)
    sort: Sort = "relevance"
    next: str | None = None
    facets: Facets | None = None
    corrected_query: str | None = None
    interpreted_as: str | None = None
    notices: list[str] = field(default_factory=list)
    timed_out: bool = False
    shards: ShardCounts = ShardCounts()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
