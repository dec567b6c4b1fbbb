"""The FastAPI application factory; the engine lives on ``app.state`` for the app's life."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import router
from search.engine import Engine
from search.settings import Settings


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
        description="Lexical, semantic and hybrid search over news archives.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router)
    return app
