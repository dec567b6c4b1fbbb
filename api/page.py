"""The search page: one server-rendered shell, the rest done in the browser via the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.params import EngineDep

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, engine: EngineDep) -> HTMLResponse:
    stats = engine.stats()

    def url_for(name: str, **params: str) -> str:
        # A path from the app's own routes (``/static/app.js``): Starlette's
        # ``url_for`` would write the request's ``Host`` header into the page.
        return str(request.app.url_path_for(name, **params))

    context = {"articles": stats["articles"], "model": stats["model"], "url_for": url_for}
    return templates.TemplateResponse(request, "index.html", context)
