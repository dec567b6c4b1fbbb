"""The reader interface: a format turns a byte stream into raw records, lazily.

A reader never validates: it yields each record's fields as the file names them
(``Record``), or says why something in the file is not an article (``Skipped``,
counted: a WARC request, an image) or is broken (``Rejected``, listed with its
position). Mapping field names and validating happen once, for every format, in
``search.ingest.readers.sources``. Readers read streams, never whole files, except
where a format needs a whole document (one HTML page, one feed) and then only up to
``MAX_DOCUMENT_BYTES``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

SNIFF_BYTES = 8192
BUFFER_BYTES = 1 << 16
# One page or one feed is parsed whole; past this size it is not a page or a feed.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Record:
    """One record's fields, named as the file names them, and where it starts."""

    fields: dict[str, Any]
    line: int | None = None
    at: str | None = None  # a position other than a line: "item 3", "byte 5120"


@dataclass(frozen=True)
class Skipped:
    """Something in the file that is no article (counted per format, not listed)."""

    reason: str


@dataclass(frozen=True)
class Rejected:
    """A broken record or a broken rest of a file, with its position."""

    message: str
    line: int | None = None


Item = Record | Skipped | Rejected


@dataclass(frozen=True)
class Source:
    """What a reader knows of its stream: a name for reports and the user's field map."""

    name: str
    mapping: Mapping[str, str] = field(default_factory=dict)


class Reader(Protocol):
    """Read one opened (already decompressed) stream of a format."""

    def __call__(self, stream: io.BufferedReader, source: Source) -> Iterator[Item]: ...


@dataclass(frozen=True)
class Format:
    """A format: its name in summaries, the suffixes that name it, and its reader."""

    name: str
    suffixes: tuple[str, ...]
    read: Reader


class CountingStream(io.RawIOBase):
    """A raw stream that tells ``on_bytes`` how much it read (progress in bytes)."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.position += size
        if self._on_bytes is not None and size:
            self._on_bytes(size)
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


def buffered(stream: Any) -> io.BufferedReader:
    """A buffered view with ``peek``, for sniffing a stream without consuming it."""
    return io.BufferedReader(stream, BUFFER_BYTES)


def head_of(stream: io.BufferedReader) -> bytes:
    """The first bytes of ``stream``, left in place for the reader."""
    return stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]


def read_capped(stream: io.BufferedReader) -> bytes | None:
    """The whole (decompressed) document, or None when it is over ``MAX_DOCUMENT_BYTES``."""
    data = stream.read(MAX_DOCUMENT_BYTES + 1)
    return None if len(data) > MAX_DOCUMENT_BYTES else data


TOO_BIG = f"document over {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; not read"
