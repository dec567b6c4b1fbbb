"""Web archives (WARC, and the older ARC): every HTML response becomes an article.

Responses go through the HTML reader, with the record's target URI as the page's
URL. Requests, metadata, redirects, errors, images and anything else that is not
an HTML page are skipped and counted. ``warcio`` reads the records as a stream; it
was measured against ``fastwarc`` (docs/benchmarks.md): text extraction, not record
parsing, bounds a crawl's throughput, and warcio also reads ARC files.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from search.ingest.readers.base import (
    MAX_DOCUMENT_BYTES,
    TOO_BIG,
    Item,
    Record,
    Rejected,
    Skipped,
    Source,
)
from search.ingest.readers.pages import page_fields

HTML_TYPES = ("text/html", "application/xhtml+xml")


def looks_like_warc(head: bytes) -> bool:
    return head.startswith((b"WARC/", b"filedesc://"))


def read_warc(stream: io.BufferedReader, source: Source) -> Iterator[Item]:
    from warcio.archiveiterator import ArchiveIterator  # at first use (``readers.sources``)

    records = ArchiveIterator(stream, arc2warc=True)
    for number, record in enumerate(records, start=1):
        at = f"record {number}"
        if record.rec_type not in ("response", "resource"):
            yield Skipped(f"WARC {record.rec_type} record")
            continue
        if record.http_headers is not None:
            status = record.http_headers.get_statuscode() or ""
            kind = record.http_headers.get_header("Content-Type") or ""
            if not status.startswith("2"):
                yield Skipped(f"HTTP {status or 'unknown'} response")
                continue
        else:
            kind = record.rec_headers.get_header("Content-Type") or ""
        if kind.split(";")[0].strip().lower() not in HTML_TYPES:
            yield Skipped(f"{kind.split(';')[0].strip() or 'untyped'} response")
            continue
        page = record.content_stream().read(MAX_DOCUMENT_BYTES + 1)
        if len(page) > MAX_DOCUMENT_BYTES:
            yield Rejected(f"{at}: {TOO_BIG}")
            continue
        fields = page_fields(page, url=record.rec_headers.get_header("WARC-Target-URI"))
        if fields is None:
            yield Skipped("page without article text")
        else:
            yield Record(fields, at=at)
