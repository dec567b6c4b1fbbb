"""What the Whoosh index holds per article: the schema, the document an article
becomes, and the article read back from its stored fields.

Each of title, lead and body is indexed in the fields of the article's analysis
language (``body`` or ``body_en``, boosted as ``search.lexical.parse`` says) and
stored in the first; id, date, month, source, language, category and story are
exact-match fields with a per-document column (``search.lexical.columns``).
"""

from __future__ import annotations

from whoosh import query as wq
from whoosh.fields import DATETIME, ID, STORED, TEXT, Schema
from whoosh.writing import IndexWriter

from search.ingest.article import Article
from search.ingest.dates import date_period, month_of
from search.ingest.passages import PassageSettings, passage_spans
from search.lexical.analysis import (
    ANALYSED_LANGUAGES,
    COMPOUNDS,
    DEFAULT_LANGUAGE,
    analysis_language,
    news_analyzer,
)
from search.lexical.parse import SEARCH_FIELDS, TEXT_FIELDS, language_field


def build_schema(compounds: bool = COMPOUNDS) -> Schema:
    """The Whoosh schema: analysed text fields, exact-match facets, stored display fields."""
    text_fields = {
        language_field(name, language): TEXT(
            analyzer=news_analyzer(language, compounds),
            stored=language == DEFAULT_LANGUAGE,
            multitoken_query="and",
        )
        for language in ANALYSED_LANGUAGES
        for name in TEXT_FIELDS
    }
    # ``sortable`` fields keep a column per document, read by ``search.lexical.columns`` for
    # facets, date sorting and filtered semantic search without loading stored text.
    return Schema(
        id=ID(stored=True, unique=True, sortable=True),
        **text_fields,
        # ``date`` answers queries (``date:2025-02``, ranges); ``date_text`` keeps the
        # precision the archive gave, for display.
        date=DATETIME(sortable=True),
        date_text=STORED(),
        month=ID(stored=True, sortable=True),
        source=ID(stored=True, sortable=True),
        url=STORED(),
        language=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
        # The passage spans the vectors were embedded from (``search.ingest.passages``).
        passages=STORED(),
        # The agency story (search.ingest.duplicates): copies of one story share it.
        story=ID(stored=True, sortable=True),
    )


def document(article: Article, passages: PassageSettings) -> dict[str, object]:
    """The fields Whoosh indexes and stores for ``article``, passage spans included."""
    language = analysis_language(article.language)
    texts = {"title": article.title, "lead": article.lead, "body": article.body}
    if (article.lead or article.body).startswith(article.title):
        # A title made from the first sentence would count that sentence twice
        # (measured: MRR@10 0.69 -> 0.82 on 10kGNAD); show it, but don't index it.
        texts["title"] = ""
    spans = passage_spans(article, passages)
    doc: dict[str, object] = {"id": article.id, "passages": [i for span in spans for i in span]}
    for name, text in texts.items():
        # Whoosh stores a field only when the document names it, even as ''.
        doc[name] = ""
        doc[language_field(name, language)] = text
        if doc[name] != getattr(article, name):
            doc[f"_stored_{name}"] = getattr(article, name)
    for name in ("source", "url", "language", "category", "story"):
        value = getattr(article, name)
        if value is not None:
            doc[name] = value
    if article.date is not None:
        doc["date_text"] = article.date
        doc["date"] = date_period(article.date)[0]
        month = month_of(article.date)
        if month is not None:
            doc["month"] = month
    return doc


def article_from_stored(stored: dict[str, object]) -> Article:
    """The article a document's stored fields hold."""
    return Article(
        id=str(stored["id"]),
        title=str(stored.get("title") or ""),
        lead=str(stored.get("lead") or ""),
        body=str(stored.get("body") or ""),
        date=_optional(stored.get("date_text")),
        source=_optional(stored.get("source")),
        url=_optional(stored.get("url")),
        language=_optional(stored.get("language")),
        category=_optional(stored.get("category")),
        story=_optional(stored.get("story")),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def in_any_field(term: str, fields: tuple[str, ...] = SEARCH_FIELDS) -> wq.Query:
    """``term`` in any of ``fields`` (by default every searched field, of any language)."""
    return wq.Or([wq.Term(field, term) for field in fields])


class LexicalWriter:
    """Upserts and deletes inside one Whoosh commit."""

    def __init__(self, writer: IndexWriter, fresh: bool, passages: PassageSettings) -> None:
        self._writer = writer
        self._passages = passages
        # In a fresh index no id can exist yet, so the cheaper add skips the lookup.
        self._put = writer.add_document if fresh else writer.update_document

    def upsert(self, article: Article) -> None:
        fields = document(article, self._passages)
        if "story" not in self._writer.schema:
            fields.pop("story", None)  # an index from before stories were kept
        self._put(**fields)

    def delete(self, article_id: str) -> None:
        self._writer.delete_by_term("id", article_id)
