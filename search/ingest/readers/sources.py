"""From files, folders and streams to validated articles: one path for every format.

Each file's format is chosen by its content (WARC header, feed or page markup, JSON,
the seed date line, a CSV header) and, where content does not decide, by its name;
gzip, bzip2 and xz are unwrapped first. Every file is read or reported as skipped
with its reason, and a file that breaks part-way (a truncated archive, invalid XML)
is reported with where it broke while everything before it, and every other file,
is still read. A path that does not exist is an ``InputError`` before anything is
read.

The page, feed and WARC readers import their parsers (trafilatura, lxml, feedparser,
warcio) when they first read: a server that only answers queries never loads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from search.errors import InputError
from search.ingest.article import Article, RecordError, article_from_fields
from search.ingest.readers.base import (
    CountingStream,
    Format,
    Record,
    Rejected,
    Skipped,
    Source,
    buffered,
    head_of,
)
from search.ingest.readers.compressed import DAMAGE, SUFFIXES, compression_of, decompressed
from search.ingest.readers.delimited import DELIMITERS, read_csv
from search.ingest.readers.feeds import looks_like_feed, read_feed
from search.ingest.readers.jsonarray import read_json
from search.ingest.readers.jsonl import read_jsonl
from search.ingest.readers.pages import looks_like_html, read_html
from search.ingest.readers.seed import looks_like_seed, read_seed
from search.ingest.readers.warc import looks_like_warc, read_warc

FORMATS = (
    Format("warc", (".warc", ".arc"), read_warc),
    Format("rss/atom", (".rss", ".atom", ".xml"), read_feed),
    Format("html", (".html", ".htm", ".xhtml", ".shtml"), read_html),
    Format("json", (".json",), read_json),
    Format("jsonl", (".jsonl", ".ndjson"), read_jsonl),
    Format("csv", (".csv", ".tsv"), read_csv),
    Format("text", (".txt",), read_seed),
)
BY_NAME = {f.name: f for f in FORMATS}
BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
_BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"

OnBytes = Callable[[int], None]


@dataclass
class FormatCount:
    """One format's share of a read: files, records, articles and what was left out."""

    files: int = 0
    read: int = 0
    indexed: int = 0
    skipped: int = 0
    rejected: int = 0
    duplicates: int = 0
    bytes: int = 0


@dataclass
class ReadReport:
    """What a read saw: accepted articles, rejected records, skipped files, per format."""

    accepted: int = 0
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)
    skipped_files: list[RecordError] = field(default_factory=list)
    formats: dict[str, FormatCount] = field(default_factory=dict)
    on_bytes: OnBytes | None = None
    started: float = field(default_factory=time.perf_counter)
    current: str = "records"  # the format of the article read last

    def count(self, format_name: str) -> FormatCount:
        return self.formats.setdefault(format_name, FormatCount())

    def copy_found(self) -> None:
        """The article read last is an agency copy of an earlier one."""
        self.count(self.current).duplicates += 1

    def table(self) -> str:
        """The per-format summary: files, records read, indexed, skipped, agency copies."""
        rows = [("format", "files", "MB", "read", "indexed", "skipped", "rejected", "copies")]
        for name, c in sorted(self.formats.items()):
            mb = f"{c.bytes / 1e6:.1f}"
            rows.append((name, c.files, mb, c.read, c.indexed, c.skipped, c.rejected, c.duplicates))
        if self.skipped_files:
            rows.append(("(not read)", len(self.skipped_files), "", "", "", "", "", ""))
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(
                str(v).ljust(w) if i == 0 else str(v).rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        )


def expand_sources(paths: Iterable[str | Path]) -> list[Path]:
    """Resolve files and folders into the files to read, failing early on a bad path.

    A folder gives every file under it (each is read or reported as skipped); a file
    named on its own must be of a format we read, else nothing is touched.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            if not found:
                raise InputError(f"{path}: folder holds no files")
            files.extend(found)
        elif path.is_file():
            reason = _unsupported(path)
            if reason is not None:
                raise InputError(f"{path}: {reason}")
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return files


def _unsupported(path: Path) -> str | None:
    """Why a file named on the command line cannot be read, or None if it can."""
    try:
        with path.open("rb") as handle:
            stream = buffered(handle)
            head = head_of(stream)
            kind = compression_of(head)
            name = path.name
            if _claims_a_format(name):
                return None  # read, and any problem reported with its position
            if kind is not None:
                stream = buffered(decompressed(stream, kind))
                head = head_of(stream)
                name = name.removesuffix(SUFFIXES[kind])
                if _claims_a_format(name):
                    return None
    except DAMAGE:
        return None  # reported, with its position, when it is read
    found = detect(name, head)
    return found if isinstance(found, str) else None


def detect(name: str, head: bytes) -> Format | str:
    """The format of a (decompressed) stream from its first bytes and its name, or why not."""
    suffix = Path(name.lower()).suffix
    by_name = BY_SUFFIX.get(suffix)
    text = head.lstrip(_BOM_AND_SPACE)
    if looks_like_warc(text):
        return BY_NAME["warc"]
    if text.startswith(b"<"):
        if looks_like_feed(text):
            return BY_NAME["rss/atom"]
        if looks_like_html(text):
            return BY_NAME["html"]
        if by_name is not None and by_name.name in ("rss/atom", "html"):
            return by_name
        return "markup that is neither a feed nor a web page"
    if b"\x00" in head:
        return "binary file, not text"
    if by_name is not None:
        return by_name
    if text.startswith(b"["):
        return BY_NAME["json"]
    if text.startswith(b"{"):
        return BY_NAME["jsonl"]
    if looks_like_seed(text):
        return BY_NAME["text"]
    first = text.split(b"\n", 1)[0]
    if any(d.encode() in first for d in DELIMITERS) and len(first) < 2000:
        return BY_NAME["csv"]
    if not text:
        return "empty file"
    known = ", ".join(sorted({s for f in FORMATS for s in f.suffixes}))
    return f"not an article format we read ({known}, optionally .gz, .bz2, .xz)"


def read_articles(
    paths: Iterable[str | Path],
    report: ReadReport | None = None,
    mapping: Mapping[str, str] | None = None,
) -> Iterator[Article]:
    """Yield every valid article under ``paths``; what was left out goes to ``report``.

    An id seen twice keeps its first record; the later one is reported, so a batch
    never silently overwrites itself.
    """
    report = report if report is not None else ReadReport()
    seen: dict[str, str] = {}
    for path in expand_sources(paths):
        try:
            handle = path.open("rb")
        except OSError as exc:
            message = f"cannot read file: {exc.strerror or exc}"
            report.errors.append(RecordError(str(path), None, message))
            continue
        with handle:
            yield from read_stream(handle, str(path), report, mapping, seen)


def read_stream(
    handle: BinaryIO,
    name: str,
    report: ReadReport,
    mapping: Mapping[str, str] | None = None,
    seen: dict[str, str] | None = None,
) -> Iterator[Article]:
    """Yield the valid articles of one stream (a file, or stdin as ``-``)."""
    seen = seen if seen is not None else {}
    counting = CountingStream(handle, report.on_bytes)
    count: FormatCount | None = None
    last = "the start"
    try:
        stream = buffered(counting)
        head = head_of(stream)
        kind = compression_of(head)
        inner = name
        if kind is not None:
            stream = buffered(decompressed(stream, kind))
            head = head_of(stream)
            inner = name.removesuffix(SUFFIXES[kind])
        found = detect(inner, head)
        if isinstance(found, str):
            if _claims_a_format(inner):
                report.errors.append(RecordError(name, None, found))
            else:
                report.skipped_files.append(RecordError(name, None, found))
            return
        count = report.count(found.name)
        count.files += 1
        for item in found.read(stream, Source(name, mapping or {})):
            if isinstance(item, Skipped):
                count.skipped += 1
                continue
            if isinstance(item, Rejected):
                count.rejected += 1
                report.errors.append(RecordError(name, item.line, item.message))
                continue
            count.read += 1
            last = f"line {item.line}" if item.line is not None else item.at or last
            article = _article(item, name, mapping, report)
            if article is None:
                count.rejected += 1
                continue
            where = f"{name}:{item.line}" if item.line is not None else f"{name} {item.at or ''}"
            if article.id in seen:
                message = duplicate_message(article.id, seen[article.id])
                report.errors.append(RecordError(name, item.line, _at(item, message)))
                count.rejected += 1
                continue
            seen[article.id] = where.strip()
            report.accepted += 1
            count.indexed += 1
            report.current = found.name
            yield article
    except Exception as exc:  # a damaged file: report where, keep everything else
        report.errors.append(RecordError(name, None, _damage(exc, counting.position, last)))
    finally:
        if count is not None:
            count.bytes += counting.position


def duplicate_message(article_id: str, first: str) -> str:
    """The error for an id read before, at ``first`` (a file and its line or place)."""
    return f"duplicate id {article_id!r} (first at {first})"


def _claims_a_format(name: str) -> bool:
    """A file whose name says it holds articles: a problem with it is an error, not a skip."""
    return Path(name.lower()).suffix in BY_SUFFIX


def _article(
    item: Record, name: str, mapping: Mapping[str, str] | None, report: ReadReport
) -> Article | None:
    def warn(message: str) -> None:
        report.warnings.append(RecordError(name, item.line, _at(item, message)))

    try:
        return article_from_fields(item.fields, mapping, warn)
    except ValueError as exc:
        report.errors.append(RecordError(name, item.line, _at(item, str(exc))))
        return None


def _at(item: Record, message: str) -> str:
    return f"{item.at}: {message}" if item.at else message


def _damage(exc: Exception, position: int, last: str) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno is not None:
        what = f"cannot read file: {exc.strerror or detail}"
    elif isinstance(exc, DAMAGE):
        what = f"the file ends early or is damaged: {detail}"
    else:
        what = f"unreadable: {detail}"
    return f"{what} (after {last}, near byte {position:,}); the rest of the file is skipped"
