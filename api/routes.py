"""HTTP handlers: parse the request, call the engine, shape the response. Nothing more."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from api.schemas import ArticleOut, ErrorOut, HealthOut, SearchOut
from search.engine import MAX_LIMIT, Engine
from search.query import MAX_QUERY_CHARS

router = APIRouter()

ERRORS = {status: {"model": ErrorOut} for status in (400, 404, 422, 503)}


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Hits per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000, description="Hits to skip.")]


@router.get("/search", response_model=SearchOut, responses=ERRORS, tags=["search"])
def search(
    engine: EngineDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="Query (Whoosh syntax in lexical and hybrid mode).",
            examples=["Hegseth Brüssel"],
        ),
    ],
    mode: Literal["hybrid", "lexical", "semantic"] = "hybrid",
    limit: Limit = 10,
    offset: Offset = 0,
) -> SearchOut:
    """Search the archive; every hit explains its lexical, semantic and fused scores."""
    results = engine.search(q, mode=mode, limit=limit, offset=offset)
    return SearchOut.model_validate(results.to_dict())


@router.get(
    "/articles/{article_id}", response_model=ArticleOut, responses=ERRORS, tags=["articles"]
)
def article(engine: EngineDep, article_id: str) -> ArticleOut:
    """One stored article."""
    return ArticleOut.model_validate(engine.get(article_id).to_dict())


@router.get(
    "/articles/{article_id}/similar", response_model=SearchOut, responses=ERRORS, tags=["articles"]
)
def similar(engine: EngineDep, article_id: str, limit: Limit = 10, offset: Offset = 0) -> SearchOut:
    """Articles nearest in meaning to this one (never itself)."""
    results = engine.similar(article_id=article_id, limit=limit, offset=offset)
    return SearchOut.model_validate(results.to_dict())


@router.get("/health", response_model=HealthOut, tags=["service"])
def health(engine: EngineDep) -> HealthOut:
    """Liveness plus what is being served."""
    stats = engine.stats()
    return HealthOut(
        status="ok",
        generation=stats["generation"],
        articles=stats["articles"],
        model=stats["model"],
    )
