"""Cursor tokens: where the last page of a result list ended, bound to its query.

A token is URL-safe base64 of a small JSON object: the position after the last hit,
that hit's id, a fingerprint of the request (query, mode, sort, filters) and a
checksum. The id lets a page continue after the right article even when writes
shifted positions in between; the fingerprint and checksum turn a token used with
another query, or edited by hand, into a QueryError instead of a silently wrong page.
The token carries no secret: it only says where to continue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search.errors import QueryError

MAX_CURSOR_CHARS = 1000
_VERSION = 1


@dataclass(frozen=True)
class Cursor:
    """The position after the last hit shown, and that hit's id."""

    position: int
    last_id: str


def fingerprint(request: dict[str, Any]) -> str:
    """A short digest of everything that decides a result list's order."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def encode_cursor(cursor: Cursor, request_fingerprint: str) -> str:
    payload = {"v": _VERSION, "p": cursor.position, "l": cursor.last_id, "f": request_fingerprint}
    payload["c"] = _checksum(payload)
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str, request_fingerprint: str) -> Cursor:
    """The cursor in ``token``; a QueryError when it is damaged or from another request."""
    if len(token) > MAX_CURSOR_CHARS:
        raise QueryError(f"cursor: longer than {MAX_CURSOR_CHARS} characters")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode("utf-8"))
        valid = (
            isinstance(payload, dict)
            and payload.get("v") == _VERSION
            and type(payload.get("p")) is int
            and payload["p"] > 0
            and isinstance(payload.get("l"), str)
            and payload.get("c") == _checksum(payload)
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        valid = False
    if not valid:
        raise QueryError("cursor: not a cursor this service issued (damaged or edited)")
    if payload.get("f") != request_fingerprint:
        raise QueryError("cursor: it belongs to another query, mode, sort or filter")
    return Cursor(position=payload["p"], last_id=payload["l"])


def claimed_position(token: str) -> int:
    """The position a token says it continues from, unchecked (0 if unreadable).

    Only for deciding how deep to rank before the request's fingerprint is known;
    ``decode_cursor`` checks the token afterwards.
    """
    try:
        raw = base64.urlsafe_b64decode(token[:MAX_CURSOR_CHARS] + "=" * (-len(token) % 4))
        position = json.loads(raw.decode("utf-8")).get("p")
    except (binascii.Error, UnicodeDecodeError, ValueError, AttributeError):
        return 0
    return position if type(position) is int and position > 0 else 0


def resume_position(cursor: Cursor, ranked_ids: Sequence[str]) -> int:
    """Where the next page starts: after ``last_id`` wherever it moved, else at the position."""
    position = cursor.position
    if 0 < position <= len(ranked_ids) and ranked_ids[position - 1] == cursor.last_id:
        return position
    if cursor.last_id in ranked_ids:
        return ranked_ids.index(cursor.last_id) + 1
    return min(position, len(ranked_ids))


def _checksum(payload: dict[str, Any]) -> str:
    fields = {k: payload.get(k) for k in ("v", "p", "l", "f")}
    return fingerprint(fields)


MAX_LIMIT = 100


def check_page(limit: int, offset: int, cursor: str | None) -> None:
    """Raise QueryError unless ``limit``, ``offset`` and ``cursor`` name one page."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise QueryError(f"offset must be a non-negative integer, not {offset!r}")
    if cursor is not None and offset:
        raise QueryError("give offset or cursor, not both")


def window(
    ranked_ids: Sequence[str], limit: int, offset: int, cursor: str | None, key: str
) -> tuple[int, int]:
    """Where a page of ``limit`` starts and ends in ``ranked_ids``: at ``offset``, or
    after the cursor's article (a cursor bound to another request ``key`` is refused)."""
    start = offset if cursor is None else resume_position(decode_cursor(cursor, key), ranked_ids)
    return start, min(start + limit, len(ranked_ids))


def next_cursor(ranked_ids: Sequence[str], end: int, total: int, key: str) -> str | None:
    """The ``next`` of a page that ends at ``end`` (None on the last page)."""
    return encode_cursor(Cursor(end, ranked_ids[end - 1]), key) if end < total else None
