"""The seed format (``.txt``): ``date YYYY-MM[-DD] <lead>``, a blank line, then the body."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import PurePath

from search.ingest.article import Article, article_from_fields
from search.ingest.readers.base import Item, Record, Rejected, Source, read_capped

_FIRST_LINE = re.compile(r"^date\s+(\S+)\s*(.*)$")


def looks_like_seed(head: bytes) -> bool:
    return head.lstrip().lower().startswith(b"date ")


def seed_fields(text: str, article_id: str) -> dict[str, str]:
    """The fields of one seed file; ValueError when its first line is not a date line."""
    first_line, _, rest = text.lstrip().partition("\n")
    match = _FIRST_LINE.match(first_line.strip())
    if match is None:
        raise ValueError("first line must start with 'date YYYY-MM[-DD]' followed by the lead")
    date, lead = match.groups()
    body = rest.strip()
    if not body:
        # A file with only the first line is still an article: its lead is its text.
        body, lead = lead, ""
    return {"id": article_id, "date": date, "lead": lead, "body": body}


def read_seed(stream: io.BufferedReader, source: Source) -> Iterator[Item]:
    data = read_capped(stream)
    if data is None:
        yield Rejected("text file too big for one article", 1)
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Rejected(f"not valid UTF-8 (byte {exc.start})", 1)
        return
    # The file name is the id: "a/b/0001.txt.gz" is "0001".
    article_id = PurePath(source.name).name.split(".")[0]
    try:
        yield Record(seed_fields(text, article_id), line=1)
    except ValueError as exc:
        yield Rejected(str(exc), 1)


def parse_seed_text(text: str, article_id: str) -> Article:
    """One seed file's article; ValueError naming the problem."""
    return article_from_fields(seed_fields(text, article_id))
