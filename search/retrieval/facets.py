"""Facet counts: how a set of articles spreads over time, sources, categories, languages.

The month counts are ordered by month, and the timeline by its buckets (days,
months or years, chosen by how long a span the matches cover), so both read as a
history of how often a query's topic comes up; the other facets are ordered by
count, largest first. Values are counted in their folded form (see
``search.lexical.columns.facet_key``), so ``Inland`` and ``inland`` are one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Literal

import numpy as np

from search.lexical.columns import FACET_FIELDS, Columns

VALUE_FACETS = ("source", "language", "category")
TimelineUnit = Literal["day", "month", "year"]
# The longest span (in days) still drawn by day, and (in months) still by month.
DAY_SPAN = 62
MONTH_SPAN = 120
_USEC_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class Timeline:
    """Matches per day, month or year (``unit``), in time order; ``undated`` has no date.

    An article dated only to a month or a year counts on the first day of that
    period, the same point the date filter places it at.
    """

    unit: TimelineUnit = "month"
    buckets: list[FacetCount] = field(default_factory=list)
    undated: int = 0


@dataclass(frozen=True)
class Facets:
    """Counts per value of each facet field; articles without a value are not counted."""

    month: list[FacetCount] = field(default_factory=list)
    source: list[FacetCount] = field(default_factory=list)
    language: list[FacetCount] = field(default_factory=list)
    category: list[FacetCount] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def top(self, size: int) -> Facets:
        """These facets with at most ``size`` values each of source, language and category."""
        return replace(self, **{name: getattr(self, name)[:size] for name in VALUE_FACETS})


def count_facets(columns: Columns, article_ids: Iterable[str]) -> Facets:
    """Count the facet values of the articles ``article_ids`` (each counted once)."""
    return count_documents(columns, columns.docnums(article_ids))


def count_documents(columns: Columns, docnums: np.ndarray) -> Facets:
    """``count_facets`` by document number: a query's matches, without their ids."""
    docnums = np.unique(docnums)
    counted: dict[str, list[FacetCount]] = {}
    for name in FACET_FIELDS:
        labels = columns.labels[name]
        tally = np.bincount(columns.codes[name][docnums], minlength=len(labels))
        counts = [
            FacetCount(label, int(n)) for label, n in zip(labels, tally, strict=True) if n and label
        ]
        if name == "month":
            counts.sort(key=lambda c: c.value)
        else:
            counts.sort(key=lambda c: (-c.count, c.value))
        counted[name] = counts
    return Facets(**counted, timeline=timeline(columns.date_key[docnums]))


def timeline(date_keys: np.ndarray) -> Timeline:
    """Bucket Whoosh date column values (microseconds since 0001-01-01; -1 undated)."""
    dated = date_keys[date_keys >= 0]
    undated = len(date_keys) - len(dated)
    if not len(dated):
        return Timeline(undated=undated)
    days, per_day = np.unique(dated // _USEC_PER_DAY, return_counts=True)
    first, last = date.fromordinal(int(days[0]) + 1), date.fromordinal(int(days[-1]) + 1)
    months = (last.year - first.year) * 12 + last.month - first.month
    unit: TimelineUnit = (
        "day" if days[-1] - days[0] <= DAY_SPAN else "month" if months <= MONTH_SPAN else "year"
    )
    width = {"day": 10, "month": 7, "year": 4}[unit]
    tally: dict[str, int] = {}
    for day, n in zip(days.tolist(), per_day.tolist(), strict=True):
        key = date.fromordinal(day + 1).isoformat()[:width]
        tally[key] = tally.get(key, 0) + n
    buckets = [FacetCount(key, n) for key, n in tally.items()]
    return Timeline(unit=unit, buckets=buckets, undated=undated)
