"""One JSON error shape for every failure: ``{"error": {"status", "message", "detail"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from search.errors import (
    ArticleNotFound,
    IndexDamaged,
    IndexNotBuilt,
    InputError,
    ModelError,
    ModelMismatch,
    QueryError,
    SearchError,
    StorageError,
    WriterBusy,
)
from search.retrieval.filters import FilterError

_STATUS: list[tuple[type[SearchError], int]] = [
    (ArticleNotFound, 404),
    (QueryError, 400),
    (InputError, 400),
    (WriterBusy, 409),
    (IndexNotBuilt, 503),
    (IndexDamaged, 503),
    (StorageError, 503),
    (ModelMismatch, 503),
    (ModelError, 503),
]
_log = logging.getLogger(__name__)
# Seconds a client is told to wait before it retries a write that found the lock taken.
RETRY_AFTER_SECONDS = 2


def error_body(status: int, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"status": status, "message": message, "detail": detail}}


def error_response(status: int, message: str, detail: Any = None, **kwargs: Any) -> JSONResponse:
    return JSONResponse(error_body(status, message, detail), status_code=status, **kwargs)


def invalid_parameters(problems: list[dict[str, Any]]) -> JSONResponse:
    """The 422 for invalid parameters: each named in ``detail`` as ``query.limit`` etc."""
    message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
    return error_response(422, f"invalid request: {message}", problems)


def product_validation_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Document every 422 in the product's error shape, not FastAPI's default one."""
    ours = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if answer is not None:
                answer["content"] = ours
    schemas = openapi.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return openapi


def status_of(exc: SearchError) -> int:
    if isinstance(exc, StorageError) and exc.disk_full:
        return 507
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def error_body_of(exc: Exception) -> dict[str, Any]:
    """The body for any exception: the public message; the rest goes to the log."""
    if isinstance(exc, SearchError):
        status = status_of(exc)
        if status >= 500 or status == 409:
            # Paths, pids and hosts belong in the log, never in a response.
            _log.warning("%s: %s", type(exc).__name__, exc)
        return error_body(status, exc.public_message())
    _log.exception("unhandled error", exc_info=exc)
    return error_body(500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Route engine, HTTP, validation and unexpected errors through ``error_body``."""

    @app.exception_handler(SearchError)
    async def _search_error(_request: Request, exc: SearchError) -> JSONResponse:
        body = error_body_of(exc)
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(exc, WriterBusy) else None
        return JSONResponse(body, status_code=body["error"]["status"], headers=retry)

    @app.exception_handler(FilterError)
    async def _filter_error(request: Request, exc: FilterError) -> JSONResponse:
        # A bad filter value is an invalid parameter like any other: 422, named.
        where = "body" if request.method == "POST" else "query"
        return invalid_parameters([{"where": f"{where}.{exc.parameter}", "problem": exc.problem}])

    @app.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg")}
            for err in exc.errors()
        ]
        return invalid_parameters(problems)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the log; the client gets the shape, not the internals.
        # This answer leaves outside the middleware, so it names the request id itself.
        request_id = request.scope.get("state", {}).get("request_id", "")
        _log.exception("unhandled error in request %s", request_id, exc_info=exc)
        headers = {"X-Request-ID": request_id} if request_id else None
        return error_response(
            500, "internal error; the server log has the details", headers=headers
        )
