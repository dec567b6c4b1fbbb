"""JSON documents: an array of articles (a CMS export), streamed element by element.

The array is decoded incrementally, so a multi-GB export never sits in memory; one
element may be at most ``MAX_LINE_BYTES``. A document that is one object is an
article, or an envelope holding the array under a key such as ``articles``.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from typing import Any

from search.ingest.readers.base import Item, Record, Rejected, Source, read_capped
from search.ingest.readers.jsonl import MAX_LINE_BYTES

CHUNK = 1 << 20
ENVELOPE_KEYS = ("articles", "items", "data", "posts", "results", "records", "entries", "docs")
_DECODER = json.JSONDecoder()


def read_json(stream: io.BufferedReader, source: Source) -> Iterator[Item]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    buffer = ""
    while not buffer.lstrip():
        chunk = stream.read(CHUNK)
        buffer += decoder.decode(chunk, final=not chunk)
        if not chunk:
            return
    if buffer.lstrip().startswith("["):
        yield from _array(stream, decoder, buffer[buffer.index("[") + 1 :])
        return
    rest = read_capped(stream)
    if rest is None:
        yield Rejected("a JSON document that is not an array may be at most 64 MiB")
        return
    try:
        document = json.loads(buffer + decoder.decode(rest, final=True))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        yield Rejected(f"malformed JSON: {exc}")
        return
    yield from _objects(_unwrap(document))


def _unwrap(document: Any) -> list[Any]:
    if isinstance(document, dict):
        for key in ENVELOPE_KEYS:
            if isinstance(document.get(key), list):
                return document[key]
        return [document]
    return document if isinstance(document, list) else [document]


def _objects(values: list[Any]) -> Iterator[Item]:
    for number, value in enumerate(values, start=1):
        if isinstance(value, dict):
            yield Record(value, at=f"item {number}")
        else:
            yield Rejected(f"item {number}: expected a JSON object, got {type(value).__name__}")


def _array(stream: io.BufferedReader, decoder: Any, buffer: str) -> Iterator[Item]:
    number = 0
    eof = False
    while True:
        stripped = buffer.lstrip(" \t\r\n,")
        if stripped.startswith("]"):
            return
        if stripped:
            try:
                value, end = _DECODER.raw_decode(stripped)
            except json.JSONDecodeError as exc:
                if eof or len(stripped) > MAX_LINE_BYTES:
                    number += 1
                    problem = "ends early" if eof else f"is longer than {MAX_LINE_BYTES:,} bytes"
                    detail = f" ({exc.msg})" if eof else ""
                    yield Rejected(
                        f"item {number}: the JSON array {problem}{detail}; the rest is skipped"
                    )
                    return
            else:
                number += 1
                if isinstance(value, dict):
                    yield Record(value, at=f"item {number}")
                else:
                    yield Rejected(f"item {number}: expected a JSON object")
                buffer = stripped[end:]
                continue
        elif eof:
            yield Rejected(f"the JSON array ends early, after item {number}")
            return
        try:
            chunk = stream.read(CHUNK)
            buffer = stripped + decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            yield Rejected(
                f"after item {number}: not valid UTF-8 ({exc.reason}); the rest is skipped"
            )
            return
        eof = not chunk
