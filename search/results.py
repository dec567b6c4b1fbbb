"""Result shapes: the same Hit and SearchResults in every mode."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["hybrid", "lexical", "semantic"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "semantic")


@dataclass(frozen=True)
class Scores:
    """Why a hit ranks where it does; a side that did not find the article is None."""

    lexical: float | None = None
    semantic: float | None = None
    fused: float | None = None
    lexical_rank: int | None = None
    semantic_rank: int | None = None


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


@dataclass(frozen=True)
class SearchResults:
    """One page of hits; ``total`` counts every article the query matched."""

    query: str
    mode: Mode
    total: int
    offset: int
    limit: int
    hits: list[Hit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
