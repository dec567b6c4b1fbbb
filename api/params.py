"""Request parameters shared by several routes: the engine, paging and the filters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.schemas import ErrorOut
from search.engine import MAX_LIMIT, Engine
from search.retrieval.filters import Filters

MAX_OFFSET = 10_000


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with."""
    return {status: {"model": ErrorOut} for status in statuses}


def get_filters(
    date_from: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=40,
            description="Earliest date: YYYY, YYYY-MM or YYYY-MM-DD (start of that period).",
            examples=["2025-02"],
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=40,
            description="Latest date: YYYY, YYYY-MM or YYYY-MM-DD (end of that period).",
            examples=["2025-03"],
        ),
    ] = None,
    source: Annotated[
        list[str] | None, Query(description="Only these sources (repeat for several).")
    ] = None,
    language: Annotated[
        list[str] | None, Query(description="Only these languages, e.g. `de`.")
    ] = None,
    category: Annotated[list[str] | None, Query(description="Only these categories.")] = None,
) -> Filters:
    """The filters of a request; a value that makes no sense is a 400 naming the parameter."""
    return Filters.parse(date_from, date_to, source, language, category)


EngineDep = Annotated[Engine, Depends(get_engine)]
FiltersDep = Annotated[Filters, Depends(get_filters)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Hits per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip.")]
