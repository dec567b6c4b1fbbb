"""Response models: the public JSON shapes of the API (also what OpenAPI documents)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ScoresOut(BaseModel):
    """Why a hit ranks where it does; null where a side did not find the article."""

    lexical: float | None = Field(None, description="BM25F score from the Whoosh side.")
    semantic: float | None = Field(None, description="Cosine of the best passage (FAISS side).")
    fused: float | None = Field(None, description="Fused score (hybrid mode only).")
    lexical_rank: int | None = None
    semantic_rank: int | None = None


class HitOut(BaseModel):
    id: str
    title: str
    date: str | None
    source: str | None
    language: str | None
    category: str | None
    snippet: str = Field(description="HTML-escaped excerpt; matches wrapped in <mark>.")
    score: float
    scores: ScoresOut


class SearchOut(BaseModel):
    query: str
    mode: str
    total: int
    offset: int
    limit: int
    hits: list[HitOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "query": "Hegseth Brüssel",
                    "mode": "hybrid",
                    "total": 1,
                    "offset": 0,
                    "limit": 10,
                    "hits": [
                        {
                            "id": "000_494cd484c81fa86c",
                            "title": "US-Präsident Donald Trump …",
                            "date": "2025-02",
                            "source": None,
                            "language": None,
                            "category": None,
                            "snippet": "US-Verteidigungsminister Pete <mark>Hegseth</mark> …",
                            "score": 0.0325,
                            "scores": {
                                "lexical": 5.1,
                                "semantic": 0.41,
                                "fused": 0.0325,
                                "lexical_rank": 1,
                                "semantic_rank": 2,
                            },
                        }
                    ],
                }
            ]
        }
    }


class ArticleOut(BaseModel):
    id: str
    title: str
    lead: str
    body: str
    date: str | None
    source: str | None
    url: str | None
    language: str | None
    category: str | None


class HealthOut(BaseModel):
    status: str
    generation: str
    articles: int
    model: str


class ErrorDetail(BaseModel):
    status: int
    message: str
    detail: list[dict[str, object]] | None = None


class ErrorOut(BaseModel):
    """The one error shape every failing request gets."""

    error: ErrorDetail
