"""The FastAPI application factory; the engine lives on ``app.state`` for the app's life."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api import docs, page, routes, writes
from api.conventions import REQUEST_ID, ConditionalGet, Cors, HeadAsGet, RequestId
from api.errors import install_error_handlers, product_validation_errors
from api.limits import AdmissionControl, BodySizeLimit
from api.security import ReadAccess
from search.engine import shared_engine
from search.settings import Settings

# Answers at least this large are gzipped for a client that accepts it.
GZIP_MIN_BYTES = 1024

DESCRIPTION = """
Lexical, semantic and hybrid search over news archives.

* **Search** with filters (`from`, `to`, `source`, `language`, `category`), sorting
  by relevance or date, facets per source, category and language (`facet_size` of
  each) and a timeline by day, month or year, cursor paging (`next`) to any depth, and
  `fields` to choose what hits carry; `/search/export` streams every match (or the
  first `limit`) as JSON lines.
* **Similar articles** to a stored article or to any text.
* **Writes** (`POST /articles`, `DELETE /articles/{id}`) need the `X-API-Key`
  header; a server without a configured key refuses every write (403). Reads are
  open unless the server has a read key (`NEWS_SEARCH_READ_KEY`); then every route
  but `/health` needs it (or the write key) in `X-API-Key`.
* **Limits**: searches have a time budget (`timed_out: true` when it ran out) and
  wildcards, prefixes, fuzzy terms and ranges expand to a bounded number of terms;
  filters list at most 100 values each; a few expensive requests run at a time and
  the rest wait in line (503 with `Retry-After` when the line is full).

Every error has one shape: `{"error": {"status", "message", "detail"}}`. Every invalid
or unknown parameter, in a query string or a body, is a 422 whose `detail` names it.
Every `GET` also answers `HEAD`; every response carries an `X-Request-ID` (yours, or
a new one); search and article answers carry an `ETag` (a matching `If-None-Match`
gets 304) and are gzipped when asked. CORS is off unless the server names origins
(`news-search serve --cors-origin`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment, as ``serve`` sets it)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = shared_engine(settings.index, settings.model)
        engine.embedder.encode(["warm-up"])  # load the model before the first request
        app.state.engine = engine
        yield

    app = FastAPI(
        title="News archive search",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Innermost first: each add wraps the ones before it.
    app.add_middleware(BodySizeLimit)
    app.add_middleware(ConditionalGet)
    app.add_middleware(HeadAsGet)
    if settings.cors_origins:
        app.add_middleware(
            Cors,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", REQUEST_ID, "If-None-Match"],
            expose_headers=[REQUEST_ID, "ETag"],
        )
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES)
    app.add_middleware(RequestId)
    # Outside the conventions, so a refused or queued request costs nothing more.
    app.add_middleware(AdmissionControl)
    app.add_middleware(ReadAccess, read_key=settings.read_key, write_key=settings.api_key)
    app.include_router(routes.router)
    app.include_router(writes.router)
    app.include_router(page.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=docs.ASSETS_DIR), name="docs-assets")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = product_validation_errors(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
