"""Partial dates: archives know some articles only to the year or month.

A date is kept as the precision it was given in (``2025``, ``2025-02``, ``2025-02-13``
or an ISO timestamp) and turned into a period [start, end) for filtering and faceting.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from dateutil import parser as dateutil_parser

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


# Two fillers for the parts a date leaves out: what differs between the two parses
# was not in the text, so ``5 July 2025`` stays a day and ``July 2025`` a month.
_FILLERS = (datetime(2000, 1, 1, 0, 0, 0), datetime(2001, 2, 2, 1, 1, 1))
_CLOCK = re.compile(r"\d:\d\d")
_NEWSROOM_LANGUAGES = ["de", "en", "fr", "it", "es", "nl"]


def read_date(value: str | None) -> tuple[str | None, str | None]:
    """Read a date the way newsrooms write it; return (normalised, None) or (None, problem).

    The exact forms of ``normalise_date`` come first; then day-first numeric dates
    (``05.07.2025``), RFC 822 (RSS) and other English forms through dateutil; then
    month names in the archive's languages (``5. Juli 2025``) through dateparser.
    Relative words (``gestern``) are not dates of an archived article.
    """
    if value is None or not value.strip():
        return None, None
    try:
        return normalise_date(value), None
    except ValueError as exc:
        strict = str(exc)
    text = value.strip()
    if _PARTIAL.match(text):
        return None, strict  # 2025-13: a number out of range, not another form
    for parse in (_dateutil, _dateparser):
        parsed = parse(text)
        if parsed is not None:
            first, second = parsed
            # Without a year in the text (only the fillers' years differ) it is no date.
            if first.year == second.year and EARLIEST_YEAR <= first.year <= LATEST_YEAR:
                return _with_precision(first, second, text), None
    return None, f"date {text!r} could not be read"


def _dateutil(text: str) -> tuple[datetime, datetime] | None:
    try:
        return (
            dateutil_parser.parse(text, dayfirst=True, default=_FILLERS[0]),
            dateutil_parser.parse(text, dayfirst=True, default=_FILLERS[1]),
        )
    except (ValueError, OverflowError):
        return None


def _dateparser(text: str) -> tuple[datetime, datetime] | None:
    import dateparser  # loaded only for dates no simpler parser reads

    settings: dict[str, Any] = {
        "DATE_ORDER": "DMY",
        "PARSERS": ["timestamp", "custom-formats", "absolute-time"],
        "PREFER_DATES_FROM": "past",
    }
    found = [
        dateparser.parse(
            text, languages=_NEWSROOM_LANGUAGES, settings={**settings, "RELATIVE_BASE": filler}
        )
        for filler in _FILLERS
    ]
    if found[0] is None or found[1] is None:
        return None
    return found[0], found[1]


def _with_precision(first: datetime, second: datetime, text: str) -> str:
    if first.month != second.month:
        return f"{first.year:04d}"
    if first.day != second.day:
        return f"{first.year:04d}-{first.month:02d}"
    if (first.hour, first.minute) != (second.hour, second.minute) or not _CLOCK.search(text):
        return first.strftime("%Y-%m-%d")
    return first.replace(microsecond=0).isoformat()


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
