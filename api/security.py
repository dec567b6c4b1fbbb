"""Who may write: one API key, sent in ``X-API-Key`` and configured on the server.

No configured key means the archive is read-only over HTTP (403 for every write),
so a server started without thinking about keys cannot be written to by anyone.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

API_KEY_HEADER = "X-API-Key"

_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Needed for writes; the server's key comes from NEWS_SEARCH_API_KEY or "
    "`news-search serve --api-key`.",
)


def require_api_key(request: Request, key: Annotated[str | None, Depends(_header)]) -> None:
    """Let the request through only with the configured key (compared in constant time)."""
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        raise HTTPException(403, "writes are disabled: the server has no API key configured")
    if key is None:
        raise HTTPException(
            401, f"writes need the {API_KEY_HEADER} header", headers={"WWW-Authenticate": "ApiKey"}
        )
    if not hmac.compare_digest(key.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(403, "wrong API key")
