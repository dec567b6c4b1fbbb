"""How the ``news-search`` commands print: results as JSON or text, and ingest progress."""

from __future__ import annotations

import html
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from search.errors import SearchError
from search.ingest.article import RecordError
from search.ingest.readers import ReadReport, expand_sources
from search.retrieval.facets import Facets
from search.retrieval.results import SearchResults
from search.storage.generations import BuildReport

SNIPPET_CHARS = 300
_MARK = re.compile(r"</?mark>")
# The exit status of a command that finished but rejected some input records.
EXIT_REJECTED = 3


def print_results(results: SearchResults, as_json: bool) -> None:
    """A page of results as JSON, or as text: how the query was read, hits, facets."""
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, indent=2))
        return
    if results.interpreted_as is not None:
        click.echo(f"read as {results.interpreted_as!r}")
    for notice in results.notices:
        click.echo(notice)
    if results.corrected_query:
        click.echo(f"showing results for {results.corrected_query!r}")
    shards = results.shards
    if shards.failed:
        click.echo(
            f"{shards.failed} of {shards.total} shards could not be read; "
            "these results come from the others (`news-search check` names the damage)"
        )
    click.echo(f"{results.total} matches for {results.query!r} ({results.mode})")
    for rank, hit in enumerate(results.hits, start=results.offset + 1):
        meta = "  ".join(v for v in (hit.date, hit.source, hit.category) if v)
        click.echo(f"{rank:>3}. {click.style(hit.title, bold=True)}  [{hit.id}]  {meta}")
        parts = score_parts(results.mode, hit.score, hit.scores)
        click.echo(f"     {' | '.join(parts)}  (matched by {hit.matched})")
        click.echo(f"     {shorten(html.unescape(_MARK.sub('*', hit.snippet)))}")
        if hit.duplicates:  # the other copies of its agency story
            copies = (
                f"{c.id} ({', '.join(v for v in (c.source, c.date) if v) or '?'})"
                for c in hit.duplicates
            )
            click.echo(f"     also in: {', '.join(copies)}")
    if results.facets is not None:
        print_facets(results.facets)


def score_parts(mode: str, score: float, scores: Any) -> list[str]:
    """The mode's score once, then each side's score and rank where it is another number."""
    parts = [f"{mode} {score:.4f}"]
    if scores.lexical is not None and mode != "lexical":
        parts.append(f"lexical {scores.lexical:.2f} #{scores.lexical_rank}")
    if scores.semantic is not None and mode != "semantic":
        parts.append(f"semantic {scores.semantic:.3f} #{scores.semantic_rank}")
    return parts


def shorten(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, never inside a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip() + " …"


def print_facets(facets: Facets) -> None:
    """The timeline (with the undated count) and the value facets, a line each."""
    timeline = facets.timeline
    if timeline.buckets or timeline.undated:
        counts = [f"{b.value} {b.count}" for b in timeline.buckets]
        if timeline.undated:
            counts.append(f"undated {timeline.undated}")
        click.echo(f"per {timeline.unit}: {', '.join(counts)}")
    for name in ("source", "category", "language"):
        values = getattr(facets, name)
        if values:
            click.echo(f"{name}: {', '.join(f'{c.value} {c.count}' for c in values)}")


def _source_bytes(sources: Sequence[Path]) -> int | None:
    """Total size of the files to read, for a progress bar in bytes (None: unknown)."""
    try:
        return sum(path.stat().st_size for path in expand_sources(sources))
    except (OSError, SearchError):
        return None  # the read itself reports the problem


@contextmanager
def progress_bar(
    sources: Sequence[Path] | None,
) -> Iterator[tuple[ReadReport, Callable[[int], None]]]:
    """A bar over the bytes read (MB/s) that also shows articles embedded per second."""
    bar = tqdm(
        total=_source_bytes(sources) if sources is not None else None,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=None,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    read = ReadReport(on_bytes=bar.update)
    started = time.perf_counter()
    done = 0

    def on_articles(count: int) -> None:
        nonlocal done
        done += count
        rate = done / max(time.perf_counter() - started, 1e-9)
        bar.set_postfix_str(f"{done} articles, {rate:.1f} articles/s", refresh=False)

    try:
        yield read, on_articles
    finally:
        bar.close()


def print_report(report: BuildReport, verb: str) -> None:
    """What a write read, skipped and indexed, then its rejected records (exit 3)."""
    stats = report.stats
    rate = stats.articles / stats.seconds if stats.seconds else 0.0
    read = report.read
    for warning in read.warnings:
        click.echo(f"warning: {warning}", err=True)
    for skipped in read.skipped_files:
        click.echo(f"skipped: {skipped}", err=True)
    if read.formats:
        click.echo(read.table(), err=True)
    click.echo(
        f"{verb} {stats.articles} articles ({stats.passages} passages) into "
        f"{report.generation} in {stats.seconds:.1f}s, {rate:.1f} articles/s"
        + (f" (writer lock held {report.locked:.1f}s)" if report.locked else "")
        + (f"; {len(read.skipped_files)} file(s) skipped" if read.skipped_files else "")
    )
    exit_on_rejected(report.rejected)


def exit_on_rejected(rejected: list[RecordError]) -> None:
    """List rejected records on stderr and exit 3, if there are any."""
    if not rejected:
        return
    for error in rejected:
        click.echo(f"rejected: {error}", err=True)
    click.echo(f"{len(rejected)} record(s) rejected", err=True)
    sys.exit(EXIT_REJECTED)
