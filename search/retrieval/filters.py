"""Filters that narrow a search or a similar-articles list to part of the archive.

One ``Filters`` value restricts both sides: the lexical side through a Whoosh filter
query, the semantic side by leaving every article outside the filter out of the
FAISS candidates (``Engine._outside``), so a filtered semantic
page fills up with articles that pass instead of coming back short.

A partial date bound covers its whole period: ``date_from="2025-02"`` starts on
1 February 2025 and ``date_to="2025-02"`` ends with the last day of February. An
article known only to a month or a year counts from the first day of that period,
the same point it is indexed at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from whoosh import query as wq

from search.errors import QueryError
from search.ingest.dates import date_period, normalise_date
from search.lexical.columns import facet_key


class FilterError(QueryError):
    """A filter value that makes no sense; ``parameter`` names the filter (``from``)."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


# Which Whoosh field each value filter matches, and the parameter name a caller used.
VALUE_FIELDS = ("source", "language", "category")


@dataclass(frozen=True)
class Filters:
    """Date bounds (normalised partial dates) and allowed values; empty means no filter."""

    date_from: str | None = None
    date_to: str | None = None
    source: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    category: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        date_from: str | None = None,
        date_to: str | None = None,
        source: Iterable[str] | str | None = None,
        language: Iterable[str] | str | None = None,
        category: Iterable[str] | str | None = None,
    ) -> Filters:
        """Check raw parameter values; a bad one is a QueryError naming the parameter."""
        start = _date("from", date_from)
        end = _date("to", date_to)
        if start and end and date_period(start)[0] >= date_period(end)[1]:
            raise FilterError("from", f"{start} is after to: {end}")
        return cls(
            date_from=start,
            date_to=end,
            source=_values("source", source),
            language=_values("language", language),
            category=_values("category", category),
        )

    def to_dict(self) -> dict[str, Any]:
        """The filters under their parameter names, for fingerprints and echoes."""
        return {
            "from": self.date_from,
            "to": self.date_to,
            **{name: list(getattr(self, name)) for name in VALUE_FIELDS},
        }

    def query(self) -> wq.Query | None:
        """The Whoosh query every allowed article matches, or None without filters."""
        parts: list[wq.Query] = []
        if self.date_from or self.date_to:
            parts.append(wq.DateRange("date", self._start(), self._end(), endexcl=True))
        for name in VALUE_FIELDS:
            values = getattr(self, name)
            if values:
                parts.append(wq.Or([Folded(name, value) for value in values]))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else wq.And(parts)

    def _start(self) -> datetime | None:
        return date_period(self.date_from)[0] if self.date_from else None

    def _end(self) -> datetime | None:
        return date_period(self.date_to)[1] if self.date_to else None


def _date(name: str, value: str | None) -> str | None:
    try:
        return normalise_date(value)
    except ValueError as exc:
        raise FilterError(name, str(exc)) from exc


class Folded(wq.MultiTerm):
    """Every spelling in field ``fieldname`` whose folded form is ``text``.

    A filter value matches exactly what its facet value counts: ``category=Inland``
    finds ``inland`` too, and ``language=de`` finds ``de-AT``.
    """

    constantscore = True

    def __init__(self, fieldname: str, text: str) -> None:
        self.fieldname = fieldname
        self.text = text
        self.boost = 1.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Folded) and (self.fieldname, self.text) == (
            other.fieldname,
            other.text,
        )

    def __hash__(self) -> int:
        return hash((Folded, self.fieldname, self.text))

    def __repr__(self) -> str:
        return f"Folded({self.fieldname!r}, {self.text!r})"

    def _btexts(self, ixreader: Any) -> Iterable[bytes]:
        field = ixreader.schema[self.fieldname]
        for btext in ixreader.lexicon(self.fieldname):
            if facet_key(self.fieldname, field.from_bytes(btext)) == self.text:
                yield btext


def _values(name: str, raw: Iterable[str] | str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else list(raw)
    values = []
    for item in items:
        if not isinstance(item, str):
            raise FilterError(name, f"expected text, not {type(item).__name__}")
        if item.strip():
            values.append(facet_key(name, item))
    return tuple(dict.fromkeys(values))
