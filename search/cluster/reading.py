"""Reading the sources as Ray work: ``rebuild --ray``'s reading, one task per file.

Each task reads one source file (on a filesystem every node sees) with the local
readers and answers its valid articles and its share of the reading report. The
driver takes the answers in the local path's file order, with a few tasks per CPU
running ahead so memory stays bounded, and merges them into the one ``ReadReport``
as a local read fills it. An id read before, in this file or an earlier one, is
refused by the driver, so a duplicate is reported as a local read reports it; the
story grouping and everything after it stay on the driver as before.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.cluster.building import NODE_CHARS, TASK_RETRIES, Notify
from search.errors import ClusterError
from search.ingest.article import Article, RecordError
from search.ingest.readers import ReadReport, duplicate_message, expand_sources, read_stream
from search.storage.generations import SourceReading

# Tasks submitted ahead of the file the driver is merging, per CPU of the cluster.
AHEAD_PER_CPU = 4


@dataclass
class FileRead:
    """What a file's task answers: its articles, where each starts, its report."""

    name: str
    articles: list[Article]
    places: list[str]  # where each article starts, as "first at" names it
    errors_before: list[int]  # how many of the file's errors come before each article
    report: ReadReport
    bytes: int
    node: str


class _Places(dict[str, str]):
    """``read_stream``'s ids seen, in a task: it refuses no id (the driver refuses
    one read before, across files) and keeps where each article starts."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    def __contains__(self, key: object) -> bool:
        return False

    def __setitem__(self, key: str, value: str) -> None:
        self.order.append(value)


def read_file(name: str, location: str, mapping: Mapping[str, str] | None) -> FileRead:
    """Read the file at ``location`` (named ``name`` in reports, as the driver names it)."""
    import ray

    node = str(ray.get_runtime_context().get_node_id())
    read = 0

    def on_bytes(size: int) -> None:
        nonlocal read
        read += size

    report = ReadReport(on_bytes=on_bytes)
    places = _Places()
    articles: list[Article] = []
    before: list[int] = []
    path = Path(location)
    try:
        handle = path.open("rb")
    except OSError as exc:
        message = f"cannot read file: {exc.strerror or exc}"
        report.errors.append(RecordError(name, None, message))
    else:
        with handle:
            for article in read_stream(handle, name, report, mapping, places):
                articles.append(article)
                before.append(len(report.errors))
    report.on_bytes = None
    return FileRead(name, articles, places.order, before, report, read, node)


def _position(name: str, place: str) -> tuple[int | None, str | None]:
    """The line or other position of an article from where ``read_stream`` says it
    starts (``name:line``, ``name at`` or ``name``)."""
    rest = place[len(name) :]
    if rest.startswith(":") and rest[1:].isdigit():
        return int(rest[1:]), None
    return None, rest.strip() or None


def _merge(part: FileRead, report: ReadReport, seen: dict[str, str]) -> Iterator[Article]:
    """Add a file's share to ``report`` and yield its articles not read before."""
    own = part.report
    report.accepted += own.accepted
    report.warnings.extend(own.warnings)
    report.skipped_files.extend(own.skipped_files)
    for format_name, count in own.formats.items():
        total = report.count(format_name)
        for item in dataclasses.fields(count):
            setattr(total, item.name, getattr(total, item.name) + getattr(count, item.name))
    if report.on_bytes is not None and part.bytes:
        report.on_bytes(part.bytes)
    format_name = next(iter(own.formats), report.current)  # one format a file
    flushed = 0
    for article, place, before in zip(part.articles, part.places, part.errors_before, strict=True):
        report.errors.extend(own.errors[flushed:before])
        flushed = before
        if article.id in seen:
            line, at = _position(part.name, place)
            message = duplicate_message(article.id, seen[article.id])
            message = f"{at}: {message}" if at else message
            report.errors.append(RecordError(part.name, line, message))
            report.accepted -= 1
            report.count(format_name).indexed -= 1
            report.count(format_name).rejected += 1
            continue
        seen[article.id] = place
        report.current = format_name
        yield article
    report.errors.extend(own.errors[flushed:])


def read_on_cluster(
    sources: Sequence[str | Path],
    report: ReadReport,
    mapping: Mapping[str, str] | None,
    notify: Notify,
) -> Iterator[Article]:
    """``read_articles`` on the connected cluster: the same articles in the same
    order, the same ``report``; ``notify`` hears where the files were read."""
    import ray

    files = expand_sources(sources)
    ahead = AHEAD_PER_CPU * max(1, int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(read_file).options(num_cpus=1, max_retries=TASK_RETRIES)
    todo = iter(files)
    running: deque[Any] = deque()
    seen: dict[str, str] = {}
    nodes: Counter[str] = Counter()
    while True:
        for path in todo:
            running.append(task.remote(str(path), str(path.absolute()), mapping))
            if len(running) >= ahead:
                break
        if not running:
            break
        try:
            part: FileRead = ray.get(running.popleft())
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"the Ray cluster failed while reading: {first}") from exc
        nodes[part.node[:NODE_CHARS]] += 1
        yield from _merge(part, report, seen)
    notify(
        f"read {len(files)} file(s) on {len(nodes)} node(s) ("
        + ", ".join(f"{count} on {node}" for node, count in sorted(nodes.items()))
        + ")"
    )


def cluster_reading(notify: Notify) -> SourceReading:
    """``build_generation``'s ``read_sources`` on the connected cluster; ``notify``
    hears a line once every file is read."""

    def read(
        sources: Sequence[str | Path], report: ReadReport, mapping: Mapping[str, str] | None
    ) -> Iterator[Article]:
        return read_on_cluster(sources, report, mapping, notify)

    return read
