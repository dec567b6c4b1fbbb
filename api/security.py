"""Who may write and who may read: keys sent in ``X-API-Key`` and configured on the server.

No configured write key means the archive is read-only over HTTP (403 for every
write), so a server started without thinking about keys cannot be written to by
anyone. Reads are open by default, a documented choice for a newsroom's internal
archive; a read key (``NEWS_SEARCH_READ_KEY``) closes every route but ``/health``.
Keys come from the environment or a file, never from a command line (which ``ps``
shows to every local user).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response

API_KEY_HEADER = "X-API-Key"
# Probes answer without a key: they say only that the service runs and what it serves.
OPEN_PATHS = frozenset({"/health"})

_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Needed for writes (and for reads where the server has a read key); the "
    "server's keys come from NEWS_SEARCH_API_KEY / NEWS_SEARCH_READ_KEY or "
    "`news-search serve --api-key-file`.",
)


def _matches(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no key configured matches nothing."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


def require_api_key(request: Request, key: Annotated[str | None, Depends(_header)]) -> None:
    """Let the request through only with the configured write key."""
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        raise HTTPException(403, "writes are disabled: the server has no API key configured")
    if key is None:
        raise HTTPException(
            401, f"writes need the {API_KEY_HEADER} header", headers={"WWW-Authenticate": "ApiKey"}
        )
    if not _matches(key, expected):
        raise HTTPException(403, "wrong API key")


class ReadAccess:
    """ASGI middleware: with a read key configured, every route but ``OPEN_PATHS`` needs
    ``X-API-Key`` holding the read key or the write key (401 otherwise)."""

    def __init__(self, app: ASGIApp, read_key: str | None, write_key: str | None) -> None:
        self.app = app
        self.read_key = read_key
        self.write_key = write_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.read_key or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode("latin-1"))
        key = sent.decode("latin-1") if sent is not None else None
        if _matches(key, self.read_key) or _matches(key, self.write_key):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401,
            f"this server needs the {API_KEY_HEADER} header for reads",
            headers={"WWW-Authenticate": "ApiKey"},
        )
        await response(scope, receive, send)
