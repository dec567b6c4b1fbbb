"""The article record and the one validation every ingest path shares.

Archives name their fields in many ways (``headline``, ``pubDate``, ``content``):
``article_from_fields`` maps the common names, and ``--map field=name`` the rest,
so a CMS export needs no conversion step. A date that cannot be read leaves the
article undated with a warning instead of losing the article.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from search.ingest.dates import read_date
from search.ingest.languages import canonical_language, detect_language

MAX_ARTICLE_CHARS = 1_000_000
TEXT_FIELDS = ("title", "lead", "body", "source", "url", "language", "category")
# The names archives use for each field (CMS exports, feeds, schema.org, German
# spreadsheets), tried in this order, case-insensitively, after the field's own name.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("guid", "uuid", "article_id", "_id"),
    "title": ("headline", "heading", "titel", "überschrift", "schlagzeile"),
    "lead": ("teaser", "summary", "description", "abstract", "subtitle", "vorspann", "anriss"),
    "body": (
        "text",
        "content",
        "article",
        "article_body",
        "articlebody",
        "fulltext",
        "inhalt",
        "volltext",
        "artikeltext",
    ),
    "date": (
        "published",
        "pubdate",
        "datepublished",
        "date_published",
        "published_at",
        "publication_date",
        "pub_date",
        "created",
        "updated",
        "datum",
        "veröffentlicht",
    ),
    "source": ("publisher", "outlet", "site_name", "sitename", "quelle", "medium"),
    "url": ("link", "canonical", "canonical_url", "href"),
    "language": ("lang", "inlanguage", "sprache"),
    "category": ("section", "rubric", "ressort", "rubrik", "categories"),
}

# A sentence ends at . ! ? (optionally followed by a closing quote) before a capital
# letter or a digit; "z.B. der" or "3. Mai" stay together because a lowercase word or
# a month name follows.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"“”»«']?\s+(?=[A-ZÄÖÜ0-9\"„“»«])")

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Article:
    """One news article; ``date`` is normalised (``2025``, ``2025-02``, ``2025-02-13`` or ISO)."""

    id: str
    body: str
    title: str = ""
    lead: str = ""
    date: str | None = None
    source: str | None = None
    url: str | None = None
    language: str | None = None
    category: str | None = None
    # The agency story this article is a copy of (the id of the story's first article),
    # set at ingest by ``search.ingest.duplicates``; None for a first or lone article.
    story: str | None = None

    @property
    def text(self) -> str:
        """Lead and body as one text, the way a reader sees the article."""
        return f"{self.lead}\n\n{self.body}" if self.lead else self.body

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecordError:
    """A record that was rejected or skipped, with where it came from and why."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


def parse_mapping(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Turn ``["text=Inhalt", ...]`` (our field = their name) into a mapping; ValueError if bad."""
    mapping: dict[str, str] = {}
    known = ("id", "date", "text", *TEXT_FIELDS)
    for pair in pairs:
        field, sep, name = pair.partition("=")
        field, name = field.strip().lower(), name.strip()
        if not sep or not name:
            raise ValueError(f"--map {pair!r}: expected FIELD=NAME, e.g. text=Inhalt")
        if field not in known:
            raise ValueError(f"--map {pair!r}: unknown field {field!r}; one of {', '.join(known)}")
        mapping["body" if field == "text" else field] = name
    return mapping


def canonical_fields(
    raw: Mapping[str, Any], mapping: Mapping[str, str] | None = None
) -> dict[str, tuple[str, Any]]:
    """Our field names for a record's (key, value): ``mapping`` first, then names and aliases."""
    lowered = {str(k).lower(): (k, v) for k, v in raw.items()}
    fields: dict[str, tuple[str, Any]] = {}
    for name, aliases in FIELD_ALIASES.items():
        candidates = [mapping[name]] if mapping and name in mapping else []
        for key in (*candidates, name, *aliases):
            found = (key, raw[key]) if key in raw else lowered.get(key.lower())
            if found is not None and found[1] is not None and found[1] != "":
                fields[name] = found
                break
    return fields


def stable_id(url: str | None, text: str) -> str:
    """An id for a record without one: from its URL, else its text, so re-reading it updates."""
    basis = f"url:{url}" if url else f"text:{text}"
    return "h-" + hashlib.sha1(basis.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, used as a title when a record has none."""
    text = text.strip()
    parts = _SENTENCE_END.split(text, maxsplit=1)
    return parts[0].strip() if parts else ""


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences (a light rule-based splitter for news prose)."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n", text):
        sentences.extend(s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip())
    return sentences


def _text_value(name: str, found: tuple[str, Any] | None) -> str | None:
    if found is None:
        return None
    key, value = found
    if isinstance(value, list) and name == "category" and all(isinstance(v, str) for v in value):
        value = value[0] if value else None  # a list of sections: the first is the main one
    if value is not None and not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string, not {type(value).__name__}")
    return value.strip() if isinstance(value, str) and value.strip() else None


def article_from_fields(
    raw: Mapping[str, Any], mapping: Mapping[str, str] | None = None, warn: Warn | None = None
) -> Article:
    """Validate one record and build an Article; raise ValueError naming the problem.

    ``warn`` hears about what was repaired rather than rejected (an unreadable date).
    """
    fields = canonical_fields(raw, mapping)
    values = {name: _text_value(name, fields.get(name)) for name in TEXT_FIELDS}
    body = values["body"]
    if body is None:
        raise ValueError("no text: 'text', 'body' or 'content' is missing or empty")
    lead = values["lead"] or ""
    if lead == body:
        lead = ""
    size = len(body) + len(lead)
    if size > MAX_ARTICLE_CHARS:
        raise ValueError(f"article has {size:,} characters; the limit is {MAX_ARTICLE_CHARS:,}")
    raw_id = fields["id"][1] if "id" in fields else None
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        article_id = stable_id(values["url"], f"{values['title'] or ''}\n{lead}\n{body}")
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        key = fields["id"][0]
        raise ValueError(f"'{key}' must be a string or an integer, not {type(raw_id).__name__}")
    else:
        article_id = str(raw_id).strip()
        if len(article_id) > 200 or any(ch in article_id for ch in "/\\\n\r\t"):
            if fields["id"][0].lower() == "id":
                raise ValueError(
                    f"'id' {article_id[:40]!r} may not contain slashes or control characters"
                )
            # A guid is often a URL: keep it stable, but as an id without slashes.
            article_id = stable_id(article_id, "")
    date_value = fields["date"][1] if "date" in fields else None
    date, problem = read_date(date_value if isinstance(date_value, str) else None)
    if date_value is not None and not isinstance(date_value, str):
        problem = f"date {date_value!r} is not text"
    if problem is not None and warn is not None:
        warn(f"{problem}; article {article_id!r} left undated")
    title = values["title"] or first_sentence(lead or body)[:300]
    return Article(
        id=article_id,
        title=title,
        lead=lead,
        body=body,
        date=date,
        source=values["source"],
        url=values["url"],
        # A record that does not say gets its language detected, so every article
        # can be filtered by language.
        language=canonical_language(
            values["language"] or detect_language(f"{title}. {lead} {body}") or ""
        )
        or None,
        category=values["category"],
    )
