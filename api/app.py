"""The FastAPI application factory; the engine lives on ``app.state`` for the app's life."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import page, routes, writes
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from search.engine import Engine
from search.settings import Settings

DESCRIPTION = """
Lexical, semantic and hybrid search over news archives.

* **Search** with filters (`from`, `to`, `source`, `language`, `category`), sorting
  by relevance or date, facets per month, source, category and language, and
  cursor paging (`next`) to any depth; `/search/export` streams every match as JSON
  lines.
* **Similar articles** to a stored article or to any text.
* **Writes** (`POST /articles`, `DELETE /articles/{id}`) need the `X-API-Key`
  header; a server without a configured key refuses every write (403).

Every error has one shape: `{"error": {"status", "message", "detail"}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment, as ``serve`` sets it)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = Engine(settings.index, model=settings.model)
        engine.embedder.encode(["warm-up"])  # load the model before the first request
        app.state.engine = engine
        yield

    app = FastAPI(
        title="News archive search",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(routes.router)
    app.include_router(writes.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    return app
