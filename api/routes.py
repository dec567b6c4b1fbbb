"""Read handlers: parse the request, call the engine, shape the response. Nothing more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from api.errors import error_body, error_body_of
from api.params import (
    EngineDep,
    FacetSize,
    FiltersDep,
    HitFieldsDep,
    Limit,
    Offset,
    errors,
    reject_unknown_parameters,
)
from api.schemas import (
    ArticleOut,
    ExportRowOut,
    FacetsOut,
    HealthOut,
    SearchOut,
    SimilarIn,
    StatsOut,
)
from search.budget import Budget
from search.ingest.article import Article
from search.lexical.parse import MAX_QUERY_CHARS
from search.retrieval.filters import Filters
from search.retrieval.paging import MAX_CURSOR_CHARS
from search.retrieval.results import Mode, Ranked, SearchResults, Sort

router = APIRouter(dependencies=[Depends(reject_unknown_parameters)])
MAX_EXPORT = 1_000_000

Q = Annotated[
    str,
    Query(
        min_length=1,
        description="Any text. Query syntax (phrases, fields, NOT, wildcards) is honoured where "
        "well-formed and the rest read as words; `interpreted_as` says how it was read. "
        f"Past {MAX_QUERY_CHARS:,} characters it is shortened.",
        examples=["Hegseth Brüssel"],
    ),
]
SyntaxParam = Annotated[
    Literal["lenient", "strict"],
    Query(description="`strict`: malformed query syntax is a 400 naming the problem."),
]
ModeParam = Annotated[Mode, Query(description="Which side(s) rank the articles.")]
FusionParam = Annotated[
    Literal["zscore", "minmax", "rrf"],
    Query(description="How hybrid mode merges the two rankings (see docs/quality.md)."),
]
SortParam = Annotated[
    Sort, Query(description="`relevance`, `date` (newest first) or `date_asc` (oldest first).")
]


class JSONLinesResponse(StreamingResponse):
    media_type = "application/x-ndjson"


def _answer(
    results: SearchResults, fields: frozenset[str] | None, facet_size: int | None = None
) -> Response:
    """The response for ``results``: only the hit ``fields`` asked for, ``facet_size`` values.

    Validated once and written out here, as FastAPI would write it (aliases, unset
    fields left out): handed the model, FastAPI dumps it, validates it again and
    serializes that, three passes over every hit where one does.
    """
    data: dict[str, Any] = results.to_dict()
    if fields is not None:
        data["hits"] = [{k: v for k, v in hit.items() if k in fields} for hit in data["hits"]]
    if results.facets is not None and facet_size is not None:
        data["facets"] = results.facets.top(facet_size).to_dict()
    answer = SearchOut.model_validate(data)
    return Response(
        answer.model_dump_json(by_alias=True, exclude_unset=True), media_type="application/json"
    )


@router.get(
    "/search",
    response_model=SearchOut,
    response_model_exclude_unset=True,
    responses=errors(400, 422, 503),
    tags=["search"],
)
def search(
    engine: EngineDep,
    filters: FiltersDep,
    fields: HitFieldsDep,
    q: Q,
    mode: ModeParam = "hybrid",
    fusion: FusionParam = "zscore",
    sort: SortParam = "relevance",
    limit: Limit = 10,
    offset: Offset = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_CHARS,
            description="The `next` of the previous page; pages at any depth at equal cost.",
        ),
    ] = None,
    facets: Annotated[bool, Query(description="Count months, sources, ... of all matches.")] = True,
    syntax: SyntaxParam = "lenient",
    facet_size: FacetSize = 10,
    collapse: Annotated[
        bool,
        Query(
            description="One hit per agency story, listing the other copies in `duplicates`; "
            "`false` shows every copy."
        ),
    ] = True,
) -> Response:
    """Search the archive; every hit explains its lexical, semantic and fused scores."""
    results = engine.search(
        q,
        mode=mode,
        fusion=fusion,
        limit=limit,
        offset=offset,
        filters=filters,
        sort=sort,
        cursor=cursor,
        facets=facets,
        strict=syntax == "strict",
        collapse=collapse,
    )
    return _answer(results, fields, facet_size)


@router.get(
    "/search/export",
    response_class=JSONLinesResponse,
    responses={
        200: {"model": ExportRowOut, "description": "One JSON object per line, best match first."},
        **errors(400, 422, 503),
    },
    tags=["search"],
)
def export(
    engine: EngineDep,
    filters: FiltersDep,
    q: Q,
    mode: ModeParam = "hybrid",
    sort: SortParam = "relevance",
    syntax: SyntaxParam = "lenient",
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_EXPORT, description="At most this many matches, best first."),
    ] = None,
) -> JSONLinesResponse:
    """Every match of a query (or the first ``limit``) as JSON lines, streamed as read.

    An export that cannot be completed ends with one line in the error shape
    (`{"error": {...}}`) instead of stopping short, so a reader can tell.
    """
    budget = Budget(engine.search_seconds)
    rows = engine.matches(
        q, mode=mode, filters=filters, sort=sort, strict=syntax == "strict", budget=budget
    )
    return JSONLinesResponse(
        _json_lines(islice(rows, limit), budget),
        headers={"Content-Disposition": 'attachment; filename="matches.jsonl"'},
    )


def _json_lines(rows: Iterator[tuple[Article, Ranked]], budget: Budget) -> Iterator[str]:
    try:
        for rank, (article, item) in enumerate(rows, start=1):
            row = ExportRowOut(
                **article.to_dict(), rank=rank, score=item.score, scores=item.scores.__dict__
            )
            yield json.dumps(row.model_dump(), ensure_ascii=False) + "\n"
    except Exception as exc:  # the status line is sent: the error travels as the last line
        yield json.dumps(error_body_of(exc), ensure_ascii=False) + "\n"
        return
    if budget.timed_out:
        message = "the query ran out of time; this export holds only the matches found by then"
        yield json.dumps(error_body(503, message, budget.notices), ensure_ascii=False) + "\n"


@router.get(
    "/articles/{article_id}",
    response_model=ArticleOut,
    responses=errors(404, 422, 503),
    tags=["articles"],
)
def article(engine: EngineDep, article_id: str) -> ArticleOut:
    """One stored article."""
    return ArticleOut.model_validate(engine.get(article_id).to_dict())


@router.get(
    "/articles/{article_id}/similar",
    response_model=SearchOut,
    response_model_exclude_unset=True,
    responses=errors(400, 404, 422, 503),
    tags=["articles"],
)
def similar(
    engine: EngineDep,
    filters: FiltersDep,
    fields: HitFieldsDep,
    article_id: str,
    limit: Limit = 10,
    offset: Offset = 0,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_CHARS, description="The `next` of the previous page."),
    ] = None,
) -> Response:
    """The articles nearest in meaning to this one (never itself), with the filters of
    /search; the list holds the 100 nearest and pages like a search."""
    results = engine.similar(
        article_id=article_id, limit=limit, offset=offset, filters=filters, cursor=cursor
    )
    return _answer(results, fields)


@router.post(
    "/similar",
    response_model=SearchOut,
    response_model_exclude_unset=True,
    responses=errors(400, 413, 422, 503),
    tags=["search"],
)
def similar_to_text(engine: EngineDep, request: SimilarIn) -> Response:
    """Articles nearest in meaning to a text (a draft, a press release, a question)."""
    filters = Filters.parse(
        request.date_from, request.date_to, request.source, request.language, request.category
    )
    results = engine.similar(
        text=request.text, limit=request.limit, offset=request.offset, filters=filters
    )
    return _answer(results, None)


@router.get("/health", response_model=HealthOut, responses=errors(503), tags=["service"])
def health(engine: EngineDep) -> HealthOut:
    """Liveness plus what is being served (cheap enough to poll)."""
    # From the manifest alone: no index searcher is opened for a probe.
    manifest = engine.manifest
    return HealthOut(
        status="ok",
        generation=manifest.generation,
        articles=manifest.articles,
        model=manifest.model,
    )


@router.get("/stats", response_model=StatsOut, responses=errors(503), tags=["service"])
def stats(engine: EngineDep) -> StatsOut:
    """What the index holds, which model built it, and its spread over months and sources."""
    facets = FacetsOut.model_validate(engine.facets().to_dict())
    # The folder's name only: a response never shows where on the disk the index lives.
    stats = {**engine.stats(), "index": engine.folder.path.name}
    return StatsOut.model_validate({**stats, "facets": facets})
