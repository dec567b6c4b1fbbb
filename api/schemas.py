"""Request and response models: the public JSON shapes of the API (also what OpenAPI documents)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.limits import MAX_FILTER_VALUES
from search.lexical.parse import MAX_QUERY_CHARS
from search.retrieval.results import Matched

MAX_ARTICLES_PER_REQUEST = 1000
SEED_ID = "000_494cd484c81fa86c"


class ScoresOut(BaseModel):
    """Why a hit ranks where it does; null where a side did not find the article."""

    lexical: float | None = Field(None, description="BM25F score from the Whoosh side.")
    semantic: float | None = Field(None, description="Cosine of the best passage (FAISS side).")
    fused: float | None = Field(
        None,
        description="Fused score (hybrid mode only); null for keyword matches ranked after "
        "the fused candidates.",
    )
    lexical_rank: int | None = None
    semantic_rank: int | None = None


class CopyOut(BaseModel):
    """Another copy of a hit's agency story."""

    id: str
    source: str | None
    date: str | None


class HitOut(BaseModel):
    """One hit; with ``fields=`` only the fields asked for (and ``id``) are present."""

    id: str
    title: str = ""
    date: str | None = None
    source: str | None = None
    language: str | None = None
    category: str | None = None
    url: str | None = Field(None, description="The article's original address, if known.")
    snippet: str = Field("", description="HTML-escaped excerpt; matches wrapped in <mark>.")
    score: float = Field(
        0.0, description="The ranking score: never rises down the list; 0..1 in hybrid mode."
    )
    scores: ScoresOut = Field(default_factory=ScoresOut)
    matched: Matched = Field(
        "keywords",
        description="Whether the article matched by its words, by its meaning, or both.",
    )
    duplicates: list[CopyOut] = Field(
        default_factory=list,
        description="Other copies of the same agency story (collapsed into this hit).",
    )


class FacetCountOut(BaseModel):
    value: str
    count: int


class TimelineOut(BaseModel):
    """Matches per ``unit`` in time order (only buckets with matches); ``undated`` have none."""

    unit: Literal["day", "month", "year"] = Field(
        description="Chosen by the span of the matches: up to two months by day, up to ten "
        "years by month, beyond that by year."
    )
    buckets: list[FacetCountOut]
    undated: int


class FacetsOut(BaseModel):
    """Counts over every match (not just this page); ``month`` is in time order.

    Spellings of a source or category that differ only in case or spacing count as
    one value, shown in its most common spelling; languages count by language
    (``de-AT`` as ``de``). Filters match the same way.
    """

    month: list[FacetCountOut]
    source: list[FacetCountOut]
    language: list[FacetCountOut]
    category: list[FacetCountOut]
    timeline: TimelineOut


_HIT_EXAMPLE = {
    "id": SEED_ID,
    "title": "US-Präsident Donald Trump …",
    "date": "2025-02",
    "source": None,
    "language": None,
    "category": None,
    "url": None,
    "snippet": "US-Verteidigungsminister Pete <mark>Hegseth</mark> …",
    "score": 0.0325,
    "matched": "both",
    "scores": {
        "lexical": 5.1,
        "semantic": 0.41,
        "fused": 0.0325,
        "lexical_rank": 1,
        "semantic_rank": 2,
    },
}


class ShardsOut(BaseModel):
    """Elasticsearch's ``_shards``: how many shards a search used."""

    total: int = Field(0, description="Shards of the index.")
    successful: int = Field(0, description="Shards that were searched and answered.")
    skipped: int = Field(
        0, description="Shards holding nothing the filters allow; not read at all."
    )
    failed: int = Field(
        0, description="Shards that could not be read; the hits come from the others."
    )


class SearchOut(BaseModel):
    query: str
    mode: str
    sort: str = "relevance"
    total: int = Field(description="Every article that matched, on all pages.")
    offset: int
    limit: int
    next: str | None = Field(
        None, description="Cursor for the following page (pass as `cursor`); null on the last."
    )
    hits: list[HitOut]
    facets: FacetsOut | None = Field(None, description="Counts over all matches.")
    corrected_query: str | None = Field(
        None, description="Spelling-corrected query searched instead of `query` (did you mean)."
    )
    interpreted_as: str | None = Field(
        None,
        description="How the query was read where that differs from what was typed "
        "(stray syntax read as words, a long text shortened); null if as typed.",
    )
    notices: list[str] = Field(
        default_factory=list, description="Why the query was read so, one sentence each."
    )
    timed_out: bool = Field(
        False, description="The time budget ran out; the hits are what was found by then."
    )
    shards: ShardsOut = Field(default_factory=ShardsOut, description="Which shards answered.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "Hegseth Brüssel",
                    "mode": "hybrid",
                    "sort": "relevance",
                    "total": 1,
                    "offset": 0,
                    "limit": 10,
                    "next": None,
                    "corrected_query": None,
                    "interpreted_as": None,
                    "notices": [],
                    "timed_out": False,
                    "shards": {"total": 3, "successful": 1, "skipped": 2, "failed": 0},
                    "hits": [_HIT_EXAMPLE],
                    "facets": {
                        "month": [{"value": "2025-02", "count": 1}],
                        "source": [],
                        "language": [],
                        "category": [],
                        "timeline": {
                            "unit": "day",
                            "buckets": [{"value": "2025-02-13", "count": 1}],
                            "undated": 0,
                        },
                    },
                }
            ]
        }
    )


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


class ExportRowOut(ArticleOut):
    """One line of an export: the stored article and where it ranked."""

    rank: int
    score: float
    scores: ScoresOut


ID_PATTERN = r"^[^/\\\t\n\r]*[^\s/\\][^/\\\t\n\r]*$"
TEXT_PATTERN = r"\S"


def _integer_as_text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ArticleIn(BaseModel):
    """An article to add or replace: the fields a JSONL record may have, the same names too.

    ``text`` (or ``body``, ``content``, ``article``) is required, the rest optional;
    ``headline``, ``published``/``pubDate``/``datePublished``, ``link`` and ``guid``
    are read as title, date, url and id, and other fields are ignored.
    """

    id: Annotated[str | None, BeforeValidator(_integer_as_text)] = Field(
        None,
        max_length=200,
        pattern=ID_PATTERN,
        description="Unique id without slashes (integers are taken as text); an existing "
        "article with it is replaced. Without one, the id is derived from `url` (else the "
        "text), so posting the same article again replaces it.",
    )
    title: str | None = Field(None, description="Defaults to the first sentence.")
    lead: str | None = None
    body: str | None = Field(
        None, pattern=TEXT_PATTERN, description="The article text (or give it as `text`)."
    )
    text: str | None = Field(None, pattern=TEXT_PATTERN)
    date: str | None = Field(
        None,
        max_length=100,
        description="YYYY, YYYY-MM, YYYY-MM-DD, an ISO timestamp, or a form newsrooms write "
        "(05.07.2025, RFC 822 as in RSS, 5. Juli 2025). A date that cannot be read leaves "
        "the article undated and is named in `warnings`.",
    )
    source: str | None = None
    url: str | None = None
    language: str | None = None
    category: str | None = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            # Any text field will do; the engine's own check says so when all are missing.
            "anyOf": [{"required": [name]} for name in ("text", "body", "content", "article")],
            "examples": [
                {
                    "id": "dpa-2025-0417",
                    "title": "Hitzewelle in Wien",
                    "date": "2025-07-02",
                    "source": "dpa",
                    "language": "de",
                    "category": "wetter",
                    "text": "Wien erlebt den heißesten Julitag seit Beginn der Messungen.",
                }
            ],
        },
    )

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


ArticlesIn = ArticleIn | list[ArticleIn]


class WriteOut(BaseModel):
    generation: str = Field(description="The index generation that now serves the change.")
    upserted: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="What was repaired rather than refused (a date)."
    )


class SimilarIn(BaseModel):
    """Free text to find similar articles for, with the same filters as /search."""

    text: str = Field(
        min_length=1,
        description=f"Any text; past {MAX_QUERY_CHARS:,} characters it is shortened (a notice "
        "says so).",
        examples=["Hitzewelle in Europa"],
    )
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)
    date_from: str | None = Field(None, alias="from", max_length=40, examples=["2025-02"])
    date_to: str | None = Field(None, alias="to", max_length=40)
    source: list[str] | None = Field(None, max_length=MAX_FILTER_VALUES)
    language: list[str] | None = Field(None, max_length=MAX_FILTER_VALUES)
    category: list[str] | None = Field(None, max_length=MAX_FILTER_VALUES)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HealthOut(BaseModel):
    status: str
    generation: str
    articles: int
    model: str


class StatsOut(BaseModel):
    """What the index holds, which model built it, and how it spreads over facets."""

    index: str
    generation: str
    model: str
    dim: int
    articles: int
    passage_count: int
    schema_version: int
    created: str
    updated: str
    passages: dict[str, Any]
    facets: FacetsOut

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    status: int
    message: str
    detail: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    """The one error shape every failing request gets."""

    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error": {"status": 400, "message": 'query has an unclosed quote (")'}},
            ]
        }
    )
