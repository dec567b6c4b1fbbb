"""gzip, bzip2 and xz around any format, recognised by their magic bytes.

Decompression is streamed through the decompressors themselves rather than
``gzip.GzipFile``: a truncated archive then yields everything up to the cut before
it raises, so the records before the damage are still read, and the caller reports
where it stopped.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
SUFFIXES = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz"}
# What a damaged archive raises while it is read.
DAMAGE = (EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)
CHUNK = 1 << 16
_DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    # wbits 16 + MAX_WBITS: a gzip header and trailer around deflate data.
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}


def compression_of(head: bytes) -> str | None:
    """The compression a stream starts with, or None."""
    return next((name for magic, name in MAGIC.items() if head.startswith(magic)), None)


class Decompressed(io.RawIOBase):
    """Read ``stream`` decompressed; concatenated members (``cat a.gz b.gz``) included."""

    def __init__(self, stream: BinaryIO, kind: str) -> None:
        self._stream = stream
        self._new = _DECOMPRESSORS[kind]
        self._decompressor = self._new()
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            self._fill()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _fill(self) -> None:
        chunk = self._stream.read(CHUNK)
        if not chunk:
            self._done = True
            if not self._decompressor.eof:
                raise EOFError("compressed data ends before its end marker")
            return
        data = self._decompressor.decompress(chunk)
        while self._decompressor.eof and self._decompressor.unused_data:
            rest = self._decompressor.unused_data
            self._decompressor = self._new()
            data += self._decompressor.decompress(rest)
        self._pending += data


def decompressed(stream: BinaryIO, kind: str) -> Decompressed:
    """A raw stream that reads ``stream`` decompressed."""
    return Decompressed(stream, kind)
