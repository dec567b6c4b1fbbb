"""Write handlers: add, replace and delete articles; every route needs the API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.exceptions import RequestValidationError
from pydantic import Discriminator, Field, Tag

from api.params import EngineDep, errors
from api.schemas import MAX_ARTICLES_PER_REQUEST, ArticleIn, WriteOut
from api.security import require_api_key
from search.errors import ArticleNotFound
from search.ingest.article import Article, article_from_fields

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["writes"])


def _shape(value: object) -> str:
    return "articles" if isinstance(value, list) else "article"


# A tagged union: errors come from the one shape that was sent, located as
# ``body.article.<field>`` or ``body.articles.<n>.<field>``.
ArticlesBody = Annotated[
    Annotated[ArticleIn, Tag("article")]
    | Annotated[
        list[ArticleIn],
        Field(min_length=1, max_length=MAX_ARTICLES_PER_REQUEST),
        Tag("articles"),
    ],
    Discriminator(_shape),
    Body(description=f"One article or a list of up to {MAX_ARTICLES_PER_REQUEST}."),
]


@router.post(
    "/articles", response_model=WriteOut, responses=errors(400, 401, 403, 409, 413, 422, 503)
)
def upsert_articles(engine: EngineDep, body: ArticlesBody) -> WriteOut:
    """Add articles or replace them by id; they are searchable when this returns."""
    articles, warnings = _validated(body)
    report = engine.write(upserts=articles)
    return WriteOut(
        generation=report.generation, upserted=[a.id for a in articles], warnings=warnings
    )


@router.delete(
    "/articles/{article_id}", response_model=WriteOut, responses=errors(401, 403, 404, 409, 503)
)
def delete_article(engine: EngineDep, article_id: str) -> WriteOut:
    """Delete one article from both sides of the index."""
    report = engine.write(deletes=[article_id])
    if not report.deleted:
        raise ArticleNotFound(article_id)
    return WriteOut(generation=report.generation, deleted=[article_id])


def _validated(body: ArticleIn | list[ArticleIn]) -> tuple[list[Article], list[str]]:
    """The readers' own record checks, reported like any other invalid field (422).

    Posted articles are read exactly as a JSONL record is (``article_from_fields``),
    so a record behaves the same whichever way it arrives.
    """
    items = body if isinstance(body, list) else [body]
    problems = []
    warnings: list[str] = []
    articles: dict[str, Article] = {}
    for position, item in enumerate(items):
        where = ("body", "articles", position) if isinstance(body, list) else ("body", "article")
        label = ".".join(str(part) for part in where)
        try:
            article = article_from_fields(
                item.fields(), warn=lambda message, at=label: warnings.append(f"{at}: {message}")
            )
        except ValueError as exc:
            problems.append({"loc": where, "msg": str(exc), "type": "value_error"})
            continue
        if article.id in articles:
            problems.append(
                {"loc": where, "msg": f"duplicate id {article.id!r}", "type": "value_error"}
            )
        articles[article.id] = article
    if problems:
        raise RequestValidationError(problems)
    return list(articles.values()), warnings
