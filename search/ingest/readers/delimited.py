"""CSV as spreadsheets write it: the dialect (``,`` ``;`` tab ``|``) and a BOM are sniffed.

Excel in German locales writes semicolons and a byte-order mark; both are read
without options. Rows are read one at a time from the stream.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from search.ingest.article import canonical_fields
from search.ingest.readers.base import SNIFF_BYTES, Item, Record, Rejected, Source, head_of
from search.ingest.readers.jsonl import MAX_LINE_BYTES

DELIMITERS = ",;\t|"
# Bytes that were not UTF-8, as ``errors="surrogateescape"`` decodes them.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def sniff_dialect(head: bytes) -> type[csv.Dialect] | csv.Dialect:
    """The dialect of a CSV from its first bytes; the header row decides the delimiter."""
    text = head[:SNIFF_BYTES].decode("utf-8-sig", errors="replace")
    first = text.splitlines()[0] if text else ""
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return csv.excel
    try:
        return csv.Sniffer().sniff(text.rsplit("\n", 1)[0] if "\n" in text else text, best)
    except csv.Error:
        dialect = csv.excel
        return type("Sniffed", (dialect,), {"delimiter": best})


def read_csv(stream: io.BufferedReader, source: Source) -> Iterator[Item]:
    dialect = sniff_dialect(head_of(stream))
    # Leniently, so that bytes which are not UTF-8 cost only the rows holding them;
    # newline="" splits rows at \r and \n only, never inside a quoted article.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    # A cell may hold a whole article: past the csv module's default cap (128 KiB) it
    # would raise instead of letting the size check reject just that record.
    csv.field_size_limit(max(csv.field_size_limit(), 2 * MAX_LINE_BYTES))
    reader = csv.DictReader(text, dialect=dialect)
    header = reader.fieldnames or []
    if "body" not in canonical_fields(dict.fromkeys(header, "x"), source.mapping):
        yield Rejected(
            f"header ({', '.join(header)[:200]}) has no text column: name one text, body "
            "or content, or map one with --map text=COLUMN",
            1,
        )
        return
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader resumes at the next row
            yield Rejected(f"malformed CSV: {exc}", reader.line_num)
            continue
        if None in row:
            yield Rejected("row has more cells than the header", reader.line_num)
        elif any(_UNDECODABLE.search(v) for v in row.values() if v):
            yield Rejected("not valid UTF-8", reader.line_num)
        else:
            yield Record({k: v for k, v in row.items() if v != ""}, line=reader.line_num)
