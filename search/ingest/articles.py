"""Articles and the readers that turn archive files into them.

Readers never stop at a bad record: they report it (file, line, reason) through
``on_error`` and go on, so one broken line cannot keep an archive out of the index.
A path that cannot be read at all is an ``InputError`` raised before anything is
indexed, so nothing already in the index is touched.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from search.errors import InputError
from search.ingest.dates import normalise_date
from search.ingest.languages import detect_language

ARTICLE_SUFFIXES = (".txt", ".jsonl", ".csv")
MAX_ARTICLE_CHARS = 1_000_000
# A JSON line holding an article at the character limit needs at most ~6 bytes per
# character (\uXXXX escapes); a longer line is rejected unread, so it never sits in
# memory whole.
MAX_LINE_BYTES = 8 * MAX_ARTICLE_CHARS
_SNIFF_BYTES = 8192
# Bytes that were not UTF-8, as ``errors="surrogateescape"`` decodes them.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
TEXT_FIELDS = ("title", "lead", "body", "source", "url", "language", "category")

_SEED_FIRST_LINE = re.compile(r"^date\s+(\S+)\s*(.*)$")
# A sentence ends at . ! ? (optionally followed by a closing quote) before a capital
# letter or a digit; "z.B. der" or "3. Mai" stay together because a lowercase word or
# a month name follows.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"“”»«']?\s+(?=[A-ZÄÖÜ0-9\"„“»«])")


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

    @property
    def text(self) -> str:
        """Lead and body as one text, the way a reader sees the article."""
        return f"{self.lead}\n\n{self.body}" if self.lead else self.body

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecordError:
    """A record that was rejected, with where it came from and why."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


OnError = Callable[[RecordError], None]


@dataclass
class ReadReport:
    """What a read saw: how many records were accepted and which were rejected."""

    accepted: int = 0
    errors: list[RecordError] = field(default_factory=list)


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


def article_from_fields(fields: dict[str, Any]) -> Article:
    """Validate one record's fields and build an Article; raise ValueError naming the problem."""
    raw_id = fields.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise ValueError("missing 'id'")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise ValueError(f"'id' must be a string or an integer, not {type(raw_id).__name__}")
    article_id = str(raw_id).strip()
    if any(ch in article_id for ch in "/\\\n\r\t") or len(article_id) > 200:
        raise ValueError(f"'id' {article_id[:40]!r} may not contain slashes or control characters")

    values: dict[str, str | None] = {}
    for name in (*TEXT_FIELDS, "text", "date"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{name}' must be a string, not {type(value).__name__}")
        values[name] = value.strip() if isinstance(value, str) and value.strip() else None

    body = values["body"] or values["text"]
    if body is None:
        raise ValueError("no text: 'text' or 'body' is missing or empty")
    lead = values["lead"] or ""
    size = len(body) + len(lead)
    if size > MAX_ARTICLE_CHARS:
        raise ValueError(f"article has {size:,} characters; the limit is {MAX_ARTICLE_CHARS:,}")
    title = values["title"] or first_sentence(lead or body)[:300]
    return Article(
        id=article_id,
        title=title,
        lead=lead,
        body=body,
        date=normalise_date(values["date"]),
        source=values["source"],
        url=values["url"],
        # A record that does not say gets its language detected, so every article
        # can be filtered by language.
        language=(values["language"] or detect_language(f"{title}. {lead} {body}") or "").lower()
        or None,
        category=values["category"],
    )


def parse_seed_text(text: str, article_id: str) -> Article:
    """Parse the seed format: ``date YYYY-MM[-DD] <lead>``, a blank line, then the body."""
    stripped = text.lstrip()
    first_line, _, rest = stripped.partition("\n")
    match = _SEED_FIRST_LINE.match(first_line.strip())
    if match is None:
        raise ValueError("first line must start with 'date YYYY-MM[-DD]' followed by the lead")
    date, lead = match.groups()
    body = rest.strip()
    if not body:
        # A file with only the first line is still an article: its lead is its text.
        body, lead = lead, ""
    return article_from_fields({"id": article_id, "date": date, "lead": lead, "body": body})


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read file: {exc.strerror or exc}") from exc
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ValueError("binary file, not text")
    return data


def _read_text_file(path: Path) -> str:
    data = _read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start})") from exc


def _read_seed(path: Path, on_error: OnError) -> Iterator[tuple[int, Article]]:
    try:
        yield 1, parse_seed_text(_read_text_file(path), path.stem)
    except ValueError as exc:
        on_error(RecordError(str(path), 1, str(exc)))


def _read_jsonl(path: Path, on_error: OnError) -> Iterator[tuple[int, Article]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        on_error(RecordError(str(path), None, f"cannot read file: {exc.strerror or exc}"))
        return
    number = 0
    with handle:
        try:
            if b"\x00" in handle.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]:
                on_error(RecordError(str(path), None, "binary file, not JSON lines"))
                return
            for number, raw in enumerate(_capped_lines(handle), start=1):
                if raw is None:
                    on_error(RecordError(str(path), number, _TOO_LONG))
                    continue
                if not raw.strip():
                    continue
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
                    yield number, article_from_fields(record)
                except UnicodeDecodeError as exc:
                    on_error(RecordError(str(path), number, f"not valid UTF-8 (byte {exc.start})"))
                except json.JSONDecodeError as exc:
                    on_error(RecordError(str(path), number, f"malformed JSON: {exc.msg}"))
                except ValueError as exc:
                    on_error(RecordError(str(path), number, str(exc)))
        except OSError as exc:
            message = f"cannot read file: {exc.strerror or exc}; the rest of it is skipped"
            on_error(RecordError(str(path), number + 1, message))


_TOO_LONG = (
    f"line is longer than {MAX_LINE_BYTES:,} bytes; "
    f"an article may have at most {MAX_ARTICLE_CHARS:,} characters"
)


def _capped_lines(handle: BinaryIO) -> Iterator[bytes | None]:
    """Yield each line, or None for a line over ``MAX_LINE_BYTES``, skipped in chunks."""
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        if len(raw) <= MAX_LINE_BYTES:
            yield raw
            continue
        while raw and not raw.endswith(b"\n"):
            raw = handle.readline(1 << 20)
        yield None


def _read_csv(path: Path, on_error: OnError) -> Iterator[tuple[int, Article]]:
    try:
        # Leniently, so that bytes which are not UTF-8 cost only the rows holding them.
        text = _read_bytes(path).decode("utf-8-sig", errors="surrogateescape")
    except ValueError as exc:
        on_error(RecordError(str(path), None, str(exc)))
        return
    # A cell may hold a whole article: past the csv module's default cap (128 KiB) it
    # would raise instead of letting the size check reject just that record.
    csv.field_size_limit(max(csv.field_size_limit(), 2 * MAX_LINE_BYTES))
    # newline="" splits rows at \r and \n only, never at characters like U+2028 that
    # ``str.splitlines`` also breaks at, which may occur inside a quoted article.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [name for name in ("id",) if name not in header]
    if "text" not in header and "body" not in header:
        missing.append("text or body")
    if missing:
        on_error(RecordError(str(path), 1, f"header lacks column(s): {', '.join(missing)}"))
        return
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader resumes at the next row
            on_error(RecordError(str(path), reader.line_num, f"malformed CSV: {exc}"))
            continue
        try:
            if None in row:
                raise ValueError("row has more cells than the header")
            if any(_UNDECODABLE.search(v) for v in row.values() if v):
                raise ValueError("not valid UTF-8")
            fields = {k: (v if v != "" else None) for k, v in row.items()}
            yield reader.line_num, article_from_fields(fields)
        except ValueError as exc:
            on_error(RecordError(str(path), reader.line_num, str(exc)))


_READERS = {".txt": _read_seed, ".jsonl": _read_jsonl, ".csv": _read_csv}


def expand_sources(paths: Iterable[str | Path]) -> list[Path]:
    """Resolve files and folders into the list of article files, failing early on bad paths."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in ARTICLE_SUFFIXES)
            if not found:
                raise InputError(f"{path}: folder holds no {', '.join(ARTICLE_SUFFIXES)} files")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in ARTICLE_SUFFIXES:
                raise InputError(
                    f"{path}: unknown file type {path.suffix!r}; "
                    f"expected one of {', '.join(ARTICLE_SUFFIXES)}"
                )
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return files


def read_articles(
    paths: Iterable[str | Path], report: ReadReport | None = None
) -> Iterator[Article]:
    """Yield every valid article under ``paths``; rejected records go to ``report.errors``.

    An id seen twice keeps its first record; the later one is reported, so a batch
    never silently overwrites itself.
    """
    report = report if report is not None else ReadReport()
    seen: dict[str, str] = {}
    for path in expand_sources(paths):
        for line, article in _READERS[path.suffix.lower()](path, report.errors.append):
            if article.id in seen:
                message = f"duplicate id {article.id!r} (first at {seen[article.id]}); skipped"
                report.errors.append(RecordError(str(path), line, message))
                continue
            seen[article.id] = f"{path}:{line}"
            report.accepted += 1
            yield article
