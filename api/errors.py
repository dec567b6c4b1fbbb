"""One JSON error shape for every failure: ``{"error": {"status", "message", "detail"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from search.errors import (
    ArticleNotFound,
    IndexNotBuilt,
    InputError,
    ModelError,
    ModelMismatch,
    QueryError,
    SearchError,
    WriterBusy,
)

_STATUS: list[tuple[type[SearchError], int]] = [
    (ArticleNotFound, 404),
    (QueryError, 400),
    (InputError, 400),
    (WriterBusy, 409),
    (IndexNotBuilt, 503),
    (ModelMismatch, 503),
    (ModelError, 503),
]


def error_body(status: int, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"status": status, "message": message, "detail": detail}}


def status_of(exc: SearchError) -> int:
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Route engine, HTTP and validation errors through ``error_body``."""

    @app.exception_handler(SearchError)
    async def _search_error(_request: Request, exc: SearchError) -> JSONResponse:
        status = status_of(exc)
        return JSONResponse(error_body(status, str(exc)), status_code=status)

    @app.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg")}
            for err in exc.errors()
        ]
        message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return JSONResponse(
            error_body(422, f"invalid request: {message}", problems), status_code=422
        )
