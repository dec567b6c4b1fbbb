"""Readers for the formats archives come in, behind one interface (``base.Reader``)."""

from search.ingest.readers.sources import (
    FORMATS,
    FormatCount,
    ReadReport,
    detect,
    duplicate_message,
    expand_sources,
    read_articles,
    read_stream,
)

__all__ = [
    "FORMATS",
    "FormatCount",
    "ReadReport",
    "detect",
    "duplicate_message",
    "expand_sources",
    "read_articles",
    "read_stream",
]
