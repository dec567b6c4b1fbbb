"""RSS 2.0, RSS 1.0 and Atom feeds: one article per item.

An item's full content (``content:encoded``, Atom ``content``) is its text where
the feed has it, else its summary; link and guid give the id; the item's own
publication date is read as newsrooms write it (RFC 822 in RSS). A feed that is
not well-formed XML is reported with the line and column of the fault, and the
items ``feedparser``'s lenient parser recovered are still read.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from search.ingest.readers.base import TOO_BIG, Item, Record, Rejected, Skipped, Source, read_capped
from search.ingest.readers.pages import html_text

FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf")


def looks_like_feed(head: bytes) -> bool:
    lowered = head.lower()
    return any(marker in lowered for marker in FEED_MARKERS)


def read_feed(stream: io.BufferedReader, source: Source) -> Iterator[Item]:
    import feedparser  # at first use, like every reader's parser (``readers.sources``)

    data = read_capped(stream)
    if data is None:
        yield Rejected(TOO_BIG)
        return
    feed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    if feed.get("bozo"):
        problem = feed.get("bozo_exception")
        line = problem.getLineNumber() if hasattr(problem, "getLineNumber") else None
        column = (
            f", column {problem.getColumnNumber()}" if hasattr(problem, "getColumnNumber") else ""
        )
        if line is not None:
            recovered = len(feed.entries)
            yield Rejected(
                f"invalid XML at line {line}{column}: {problem}; "
                f"{recovered} item(s) before or around it recovered",
                line,
            )
    if not feed.get("version") and not feed.entries:
        yield Rejected("not an RSS or Atom feed")
        return
    channel = feed.get("feed", {})
    for number, entry in enumerate(feed.entries, start=1):
        fields = _item_fields(entry, channel)
        if fields is None:
            yield Skipped("feed item without text")
        else:
            yield Record(fields, at=f"item {number}")


def _item_fields(entry: Any, channel: Any) -> dict[str, Any] | None:
    contents = entry.get("content") or []
    full = max((c.get("value", "") for c in contents), key=len, default="")
    summary = entry.get("summary", "")
    text = html_text(full or summary)
    if not text:
        return None
    lead = html_text(summary) if full and summary else None
    tags = entry.get("tags") or []
    return {
        "guid": entry.get("id") or entry.get("link"),
        "title": html_text(entry.get("title", "")),
        "lead": lead,
        "body": text,
        "date": entry.get("published") or entry.get("updated") or entry.get("created"),
        "url": entry.get("link"),
        "source": channel.get("title"),
        "language": (entry.get("language") or channel.get("language") or "")[:2] or None,
        "category": tags[0].get("term") if tags else None,
    }
