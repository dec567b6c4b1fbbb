"""Limits on what one request may ask of the server: body size, list lengths, concurrency.

A declared ``Content-Length`` over the cap is refused at once; a body sent without
one (chunked) is counted as it arrives and refused as soon as it passes the cap, so
a client cannot make the server buffer an unbounded upload either way. Both answer
413 in the one error shape.

Expensive routes (search, export, similar, writes, stats) compute at most
``MAX_ACTIVE`` answers at a time (a slot is given back when the answer starts, so
a slow reader of an export holds none); the rest wait in line (at most ``MAX_WAITING`` of them,
each at most ``MAX_WAIT_SECONDS``) without holding a worker thread, and beyond that
get 503 with ``Retry-After``. Cheap routes, ``/health`` first, never wait behind
them. Each search also has its own time budget (``search.budget``).
"""

from __future__ import annotations

import asyncio
import os

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

MAX_BODY_BYTES = 16 * 1024 * 1024
# POST /similar needs a text of at most 1,000 characters and three filter lists: a
# bigger body is refused before the event loop spends time parsing it.
SMALL_BODY_BYTES = 64 * 1024
SMALL_BODY_PATHS = frozenset({"/similar"})
# Values one filter (source, language, category) may list, in a query string or a body.
MAX_FILTER_VALUES = 100
# Expensive requests at a time: about one per core (Python runs one thread at a time,
# numpy and FAISS release it).
MAX_ACTIVE = max(2, os.cpu_count() or 2)
MAX_WAITING = 64
MAX_WAIT_SECONDS = 30.0
RETRY_AFTER_SECONDS = 1
EXPENSIVE_PREFIXES = ("/search", "/similar", "/articles", "/stats")


class BodySizeLimit:
    """ASGI middleware that refuses request bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = SMALL_BODY_BYTES if scope["path"] in SMALL_BODY_PATHS else self.max_bytes
        message = f"request body is larger than {limit:,} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, message, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            received = await receive()
            if received["type"] == "http.request":
                seen += len(received.get("body", b""))
                if seen > limit:
                    # An HTTPException passes FastAPI's body parsing untouched and
                    # reaches the app's handler, which renders the error shape.
                    raise HTTPException(413, message)
            return received

        await self.app(scope, counting_receive, send)


class AdmissionControl:
    """ASGI middleware: a bounded number of expensive requests at a time, a bounded line."""

    def __init__(
        self,
        app: ASGIApp,
        max_active: int = MAX_ACTIVE,
        max_waiting: int = MAX_WAITING,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self.app = app
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self._slots = asyncio.Semaphore(max_active)
        self._waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(EXPENSIVE_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self._slots.locked() and self._waiting >= self.max_waiting:
            await self._busy(scope, receive, send)
            return
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.max_wait)
        except TimeoutError:
            await self._busy(scope, receive, send)
            return
        finally:
            self._waiting -= 1
        held = True

        async def release_when_answering(message: Message) -> None:
            # The work is done once the answer starts (an export has ranked); a
            # client reading slowly must not hold a slot.
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                self._slots.release()
            await send(message)

        try:
            await self.app(scope, receive, release_when_answering)
        finally:
            if held:
                self._slots.release()

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            503,
            "the server is busy with other searches; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        await response(scope, receive, send)
