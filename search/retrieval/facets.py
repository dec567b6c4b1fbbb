"""Facet counts: how a set of articles spreads over months, sources, categories, languages.

The month counts are ordered by month, so they read as a timeline of how often a
query's topic comes up; the other facets are ordered by count, largest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from search.lexical.columns import FACET_FIELDS, Columns


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    """Counts per value of each facet field; articles without a value are not counted."""

    month: list[FacetCount] = field(default_factory=list)
    source: list[FacetCount] = field(default_factory=list)
    language: list[FacetCount] = field(default_factory=list)
    category: list[FacetCount] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    return Facets(**counted)
