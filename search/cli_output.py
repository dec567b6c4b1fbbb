"""How the ``news-search`` commands print results: JSON, or text a person reads."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import click

from search.retrieval.facets import Facets
from search.retrieval.results import SearchResults

SNIPPET_CHARS = 300
_MARK = re.compile(r"</?mark>")


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
