"""Saved web pages: the article's text and metadata, without navigation or boilerplate.

``trafilatura`` finds the main text (menus, footers, asides, scripts and ads are
left out) and reads title, author, date (``htmldate``: meta tags, JSON-LD,
``<time>``, the URL), canonical URL and site name. The WARC reader and feeds with
HTML content use the same functions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from search.ingest.readers.base import TOO_BIG, Item, Record, Rejected, Skipped, Source, read_capped

HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<article", b"<meta ")
# Dates from metadata only: a date read from running text is often not the article's.
_DATE_PARAMS = {"extensive_search": False, "original_date": True}
_LANG = re.compile(rb"<html[^>]*\blang=[\"']?([a-zA-Z]{2})", re.IGNORECASE)
_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr"}


def looks_like_html(head: bytes) -> bool:
    lowered = head.lower()
    return any(marker in lowered for marker in HTML_MARKERS)


def page_fields(page: bytes | str, url: str | None = None) -> dict[str, Any] | None:
    """An article's fields from one HTML page, or None when it holds no main text."""
    import trafilatura  # at first use, like every reader's parser (``readers.sources``)

    document = trafilatura.bare_extraction(
        page,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params=_DATE_PARAMS,
    )
    if document is None or not (document.text or "").strip():
        return None
    raw = page.encode("utf-8", "replace") if isinstance(page, str) else page
    language = _LANG.search(raw[:4096])
    return {
        "title": document.title,
        "body": document.text,
        "date": document.date,
        "url": document.url or url,
        "source": document.sitename or document.hostname,
        "language": language.group(1).decode().lower() if language else None,
        "category": (document.categories or [None])[0],
    }


def html_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed item's content), paragraphs kept apart."""
    if "<" not in fragment:
        return fragment.strip()
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return fragment.strip()
    for element in root.iter("script", "style", "noscript", "iframe"):
        element.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
    text = root.text_content()
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def read_html(stream: io.BufferedReader, source: Source) -> Iterator[Item]:
    data = read_capped(stream)
    if data is None:
        yield Rejected(TOO_BIG)
        return
    fields = page_fields(data)
    if fields is None:
        yield Skipped("page without article text")
        return
    yield Record(fields)
