"""Request parameters shared by several routes: the engine, paging and the filters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

from api.limits import MAX_FILTER_VALUES
from api.schemas import ErrorOut, HitOut
from search.engine import Engine
from search.retrieval.filters import Filters
from search.retrieval.paging import MAX_LIMIT

MAX_OFFSET = 10_000
MAX_FACET_SIZE = 1000
# What a hit can carry; ``fields=`` picks among them (``id`` always comes).
HIT_FIELDS = tuple(HitOut.model_fields)


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
        list[str] | None,
        Query(
            max_length=MAX_FILTER_VALUES,
            description="Only these sources (repeat for several).",
        ),
    ] = None,
    language: Annotated[
        list[str] | None,
        Query(max_length=MAX_FILTER_VALUES, description="Only these languages, e.g. `de`."),
    ] = None,
    category: Annotated[
        list[str] | None,
        Query(max_length=MAX_FILTER_VALUES, description="Only these categories."),
    ] = None,
) -> Filters:
    """The filters of a request; a value that makes no sense is a 400 naming the parameter."""
    return Filters.parse(date_from, date_to, source, language, category)


EngineDep = Annotated[Engine, Depends(get_engine)]
FiltersDep = Annotated[Filters, Depends(get_filters)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Hits per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip.")]


def invalid(name: str, problem: str) -> RequestValidationError:
    """A 422 naming the query parameter ``name``, in the one error shape."""
    return RequestValidationError([{"loc": ("query", name), "msg": problem, "type": "value_error"}])


def reject_unknown_parameters(request: Request) -> None:
    """Refuse query parameters a route does not take, as POST bodies refuse unknown keys.

    A misspelt filter (``catgory=``) silently ignored would give a wrong answer.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    unknown = sorted(set(request.query_params) - _query_names(dependant))
    if unknown:
        raise RequestValidationError(
            [
                {"loc": ("query", name), "msg": "unknown parameter", "type": "extra_forbidden"}
                for name in unknown
            ]
        )


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def get_hit_fields(
    fields: Annotated[
        list[str] | None,
        Query(
            description="What each hit carries, comma-separated or repeated (`id` always "
            f"comes): {', '.join(HIT_FIELDS)}. Default: all.",
            examples=["title,date,url"],
        ),
    ] = None,
) -> frozenset[str] | None:
    """The hit fields asked for, or None for all; an unknown name is a 422 naming it."""
    if not fields:
        return None
    chosen = {name.strip() for item in fields for name in item.split(",") if name.strip()}
    unknown = sorted(chosen - set(HIT_FIELDS))
    if unknown:
        raise invalid(
            "fields", f"unknown field(s) {', '.join(unknown)}; choose from " + ", ".join(HIT_FIELDS)
        )
    return frozenset(chosen | {"id"})


HitFieldsDep = Annotated[frozenset[str] | None, Depends(get_hit_fields)]
FacetSize = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_FACET_SIZE,
        description="Values per facet (source, language, category), most frequent first.",
    ),
]
