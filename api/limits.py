"""A cap on request body size, enforced before any handler sees the body.

A declared ``Content-Length`` over the cap is refused at once; a body sent without
one (chunked) is counted as it arrives and refused as soon as it passes the cap, so
a client cannot make the server buffer an unbounded upload either way. Both answer
413 in the one error shape.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

MAX_BODY_BYTES = 16 * 1024 * 1024


class BodySizeLimit:
    """ASGI middleware that refuses request bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"request body is larger than {self.max_bytes:,} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(413, self._message(), headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException passes FastAPI's body parsing untouched and
                    # reaches the app's handler, which renders the error shape.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counting_receive, send)
