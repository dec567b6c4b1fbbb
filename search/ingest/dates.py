"""Partial dates: archives know some articles only to the year or month.

A date is kept as the precision it was given in (``2025``, ``2025-02``, ``2025-02-13``
or an ISO timestamp) and turned into a period [start, end) for filtering and faceting.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
EARLIEST_YEAR = 1000
LATEST_YEAR = 2999


def normalise_date(value: str | None) -> str | None:
    """Return the canonical form of a date string, or raise ValueError naming the problem."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    match = _PARTIAL.match(text)
    if match:
        year, month, day = (int(g) if g else None for g in match.groups())
        assert year is not None
        _check_year(year, text)
        if month is None:
            return f"{year:04d}"
        if day is None:
            if not 1 <= month <= 12:
                raise ValueError(f"date {text!r} has no month {month}")
            return f"{year:04d}-{month:02d}"
        try:
            return datetime(year, month, day).strftime("%Y-%m-%d")
        except ValueError as exc:
            raise ValueError(f"date {text!r} is not a calendar day") from exc
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"date {text!r} is not YYYY, YYYY-MM, YYYY-MM-DD or an ISO timestamp"
        ) from exc
    _check_year(stamp.year, text)
    return stamp.isoformat()


def _check_year(year: int, text: str) -> None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"date {text!r} has an implausible year")


def date_period(date: str) -> tuple[datetime, datetime]:
    """The half-open period [start, end) a normalised date stands for, naive UTC."""
    parts = date.split("-")
    if len(date) == 4:
        start = datetime(int(date), 1, 1)
        return start, datetime(start.year + 1, 1, 1)
    if len(parts) == 2:
        start = datetime(int(parts[0]), int(parts[1]), 1)
        end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        return start, end
    if len(date) == 10:
        start = datetime.strptime(date, "%Y-%m-%d")
        return start, start + timedelta(days=1)
    stamp = datetime.fromisoformat(date)
    offset = stamp.utcoffset()
    if offset is not None:
        stamp = (stamp - offset).replace(tzinfo=None)
    return stamp, stamp + timedelta(seconds=1)


def month_of(date: str | None) -> str | None:
    """The ``YYYY-MM`` bucket of a date, or None when only the year is known."""
    if date is None or len(date) < 7:
        return None
    return date[:7]
