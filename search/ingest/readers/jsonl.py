"""JSON lines: one object per line, each line read, checked and forgotten."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from search.ingest.article import MAX_ARTICLE_CHARS
from search.ingest.readers.base import Item, Record, Rejected, Source

# A JSON line holding an article at the character limit needs at most ~6 bytes per
# character (\uXXXX escapes); a longer line is rejected unread, so it never sits in
# memory whole.
MAX_LINE_BYTES = 8 * MAX_ARTICLE_CHARS
TOO_LONG = (
    f"line is longer than {MAX_LINE_BYTES:,} bytes; "
    f"an article may have at most {MAX_ARTICLE_CHARS:,} characters"
)


def capped_lines(handle: io.BufferedReader) -> Iterator[bytes | None]:
    """Yield each line, or None for a line over ``MAX_LINE_BYTES``, skipped in chunks."""
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        if len(raw) <= MAX_LINE_BYTES:
            yield raw
            continue
        while raw and not raw.endswith(b"\n"):
            raw = handle.readline(1 << 20)
        yield None


def read_jsonl(stream: io.BufferedReader, source: Source) -> Iterator[Item]:
    for number, raw in enumerate(capped_lines(stream), start=1):
        if raw is None:
            yield Rejected(TOO_LONG, number)
            continue
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as exc:
            yield Rejected(f"not valid UTF-8 (byte {exc.start})", number)
            continue
        except json.JSONDecodeError as exc:
            yield Rejected(f"malformed JSON: {exc.msg}", number)
            continue
        if not isinstance(record, dict):
            yield Rejected(f"expected a JSON object, got {type(record).__name__}", number)
            continue
        yield Record(record, line=number)
