"""HTTP conventions an integrator expects, as ASGI middleware around the whole app.

``HEAD`` answers like ``GET`` without a body; every response carries an
``X-Request-ID`` (the caller's, or a new one); JSON answers of searches and
articles carry an ``ETag`` and ``Cache-Control: no-cache`` and a matching
``If-None-Match`` gets 304. The ETag is a hash of the answer itself, so it
changes exactly when a write (a new index generation) changes that answer, even
for a request that a previous generation was still serving.
"""

from __future__ import annotations

import hashlib
import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

REQUEST_ID = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
# Paths whose GET answers are cached by validation; the export streams and is not.
_CACHED = re.compile(r"^/(search|articles/[^/]+(/similar)?)$")
CACHE_CONTROL = "no-cache"  # store, but revalidate with If-None-Match every time


class RequestId:
    """Echo a well-formed ``X-Request-ID``, or make one, on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID, "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the one error shape."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = bytes(response.body).decode("utf-8", "replace")
        return error_response(response.status_code, f"CORS preflight refused: {refused}")


class HeadAsGet:
    """Answer ``HEAD`` on every ``GET`` route: run the GET, send its headers only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class ConditionalGet:
    """ETag and Cache-Control on search and article answers; 304 on a matching If-None-Match."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _CACHED.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await _finish(scope, start, b"".join(chunks), send)

        await self.app(scope, receive, buffered)


async def _finish(scope: Scope, start: Message, body: bytes, send: Send) -> None:
    if start["status"] != 200:
        await send(start)
        await send({"type": "http.response.body", "body": body})
        return
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = MutableHeaders(scope=start)
    headers["ETag"] = etag
    headers["Cache-Control"] = CACHE_CONTROL
    wanted = Headers(scope=scope).get("if-none-match", "")
    if etag in {tag.strip().removeprefix("W/") for tag in wanted.split(",")} or wanted == "*":
        kept = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(start)
    await send({"type": "http.response.body", "body": body})
