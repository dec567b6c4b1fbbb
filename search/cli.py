"""The ``news-search`` command line.

Exit codes: 0 success; 1 an error (one line on stderr); 2 a usage error;
3 the command finished but rejected some input records (listed on stderr).
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from tqdm import tqdm

from search.engine import BuildReport, Engine
from search.errors import SearchError
from search.ingest.articles import RecordError, expand_sources
from search.retrieval.fusion import DEFAULT_FUSION, FUSIONS
from search.retrieval.results import MODES, Mode, SearchResults
from search.settings import Settings
from search.storage.folder import IndexFolder

EXIT_ERROR = 1
EXIT_REJECTED = 3
F = TypeVar("F", bound=Callable[..., Any])
_MARK = re.compile(r"</?mark>")


def _reports_errors(command: F) -> F:
    """Turn engine errors into one line on stderr and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SearchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def _settings(index: Path | None, model: str | None = None) -> Settings:
    return Settings.from_env().with_overrides(index=index, model=model)


index_option = click.option(
    "--index",
    type=click.Path(path_type=Path),
    default=None,
    help="Index folder [default: $NEWS_SEARCH_INDEX or ./index].",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
limit_option = click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)


def _estimate_records(sources: Sequence[Path]) -> int:
    """Count records cheaply (lines of JSONL/CSV, one per text file) for the progress bar."""
    total = 0
    for path in expand_sources(sources):
        if path.suffix.lower() == ".txt":
            total += 1
            continue
        try:
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
        except OSError:
            continue
        total -= path.suffix.lower() == ".csv"
    return total


@contextmanager
def _progress(sources: Sequence[Path]) -> Iterator[Callable[[int], None]]:
    bar = tqdm(
        total=_estimate_records(sources),
        unit="articles",
        file=sys.stderr,
        disable=None,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    try:
        yield bar.update
    finally:
        bar.close()


def _finish(report: BuildReport, verb: str) -> None:
    stats = report.stats
    rate = stats.articles / stats.seconds if stats.seconds else 0.0
    click.echo(
        f"{verb} {stats.articles} articles ({stats.passages} passages) into "
        f"{report.generation} in {stats.seconds:.1f}s, {rate:.1f} articles/s"
    )
    _exit_on_rejected(report.rejected)


def _exit_on_rejected(rejected: list[RecordError]) -> None:
    if not rejected:
        return
    for error in rejected:
        click.echo(f"rejected: {error}", err=True)
    click.echo(f"{len(rejected)} record(s) rejected", err=True)
    sys.exit(EXIT_REJECTED)


def _print_results(results: SearchResults, as_json: bool) -> None:
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
        s = hit.scores
        parts = [f"{results.mode} {hit.score:.4f} by {hit.matched}"]
        if s.lexical is not None:
            parts.append(f"lexical {s.lexical:.2f} #{s.lexical_rank}")
        if s.semantic is not None:
            parts.append(f"semantic {s.semantic:.3f} #{s.semantic_rank}")
        meta = "  ".join(v for v in (hit.date, hit.source) if v)
        click.echo(f"{rank:>3}. {click.style(hit.title, bold=True)}  [{hit.id}]  {meta}")
        click.echo(f"     {' | '.join(parts)}")
        snippet = html.unescape(_MARK.sub("*", hit.snippet))
        click.echo(f"     {snippet[:300]}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="news-search")
def main() -> None:
    """Search news archives by keywords, by meaning, or by example."""


@main.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@index_option
@click.option(
    "--model",
    default=None,
    help="Embedding model: 'use-multilingual-v3' (default, packaged) or a "
    "sentence-transformers hub name or local folder.",
)
@_reports_errors
def rebuild(sources: tuple[Path, ...], index: Path | None, model: str | None) -> None:
    """Build a fresh index from SOURCES (files or folders; default: seeds/)."""
    settings = _settings(index, model)
    paths = list(sources) or [Path("seeds")]
    with _progress(paths) as progress:
        _engine, report = Engine.rebuild(
            paths, settings.index, model=settings.model, progress=progress
        )
    _finish(report, "indexed")


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@_reports_errors
def add(sources: tuple[Path, ...], index: Path | None) -> None:
    """Add or replace (by id) the articles in SOURCES."""
    engine = Engine(_settings(index).index)
    with _progress(list(sources)) as progress:
        report = engine.add_files(list(sources), progress=progress)
    _finish(report, "added")


@main.command()
@click.argument("ids", nargs=-1, required=True)
@index_option
@_reports_errors
def delete(ids: tuple[str, ...], index: Path | None) -> None:
    """Delete articles by id."""
    deleted = Engine(_settings(index).index).delete(list(ids))
    click.echo(f"deleted {deleted} of {len(ids)} articles")


@main.command()
@click.argument("text")
@index_option
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option(
    "--fusion",
    type=click.Choice(FUSIONS),
    default=DEFAULT_FUSION,
    show_default=True,
    help="How hybrid mode merges the two rankings.",
)
@limit_option
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--strict", is_flag=True, help="Malformed query syntax is an error, not words.")
@json_option
@_reports_errors
def query(
    text: str,
    index: Path | None,
    mode: str,
    fusion: str,
    limit: int,
    offset: int,
    strict: bool,
    as_json: bool,
) -> None:
    """Search for TEXT: any text; well-formed query syntax is honoured."""
    engine = Engine(_settings(index).index)
    results = engine.search(
        text, mode=cast(Mode, mode), fusion=fusion, limit=limit, offset=offset, strict=strict
    )
    _print_results(results, as_json)


@main.command()
@click.argument("article_id", required=False)
@click.option("--text", default=None, help="Find articles like this text instead of an id.")
@index_option
@limit_option
@json_option
@_reports_errors
def similar(
    article_id: str | None, text: str | None, index: Path | None, limit: int, as_json: bool
) -> None:
    """Articles similar to the article ARTICLE_ID (or to --text)."""
    engine = Engine(_settings(index).index)
    _print_results(engine.similar(article_id=article_id, text=text, limit=limit), as_json)


@main.command()
@index_option
@_reports_errors
def stats(index: Path | None) -> None:
    """Show what the index holds and what built it."""
    click.echo(json.dumps(Engine(_settings(index).index).stats(), indent=2))


@main.command()
@index_option
@_reports_errors
def export(index: Path | None) -> None:
    """Write every article as JSONL to stdout (an archive can be rebuilt from it)."""
    engine = Engine(_settings(index).index)
    out = sys.stdout
    for article in engine.articles():
        out.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")


@main.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key",
    default=None,
    help="Key that allows writes [default: $NEWS_SEARCH_API_KEY; none: writes refused].",
)
@_reports_errors
def serve(index: Path | None, host: str, port: int, api_key: str | None) -> None:
    """Serve the web API and search page."""
    import uvicorn

    settings = Settings.from_env().with_overrides(index=index, api_key=api_key)
    IndexFolder(settings.index).current()  # fail here, in one line, if nothing is built
    os.environ.update(settings.to_env())
    click.echo(f"serving {settings.index} on http://{host}:{port}/", err=True)
    started = time.perf_counter()
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info")
    click.echo(f"stopped after {time.perf_counter() - started:.0f}s", err=True)


@main.command("eval")
@click.argument("queries", required=False, type=click.Path(path_type=Path))
@index_option
@click.option(
    "--mode",
    "modes",
    type=click.Choice(MODES),
    multiple=True,
    help="Mode(s) to evaluate [default: all three].",
)
@click.option(
    "--similar",
    "similar_k",
    type=int,
    default=None,
    metavar="K",
    help="Also measure similar articles: category precision@K.",
)
@json_option
@_reports_errors
def evaluate_command(
    queries: Path | None,
    index: Path | None,
    modes: tuple[str, ...],
    similar_k: int | None,
    as_json: bool,
) -> None:
    """Measure retrieval quality: MRR@10, nDCG@10, R@10, R@100 per query type and mode."""
    from search.evaluate import evaluate, format_table, load_queries, similar_category_precision

    engine = Engine(_settings(index).index)
    report: dict[str, Any] = {}
    if queries is not None:
        report["queries"] = evaluate(engine, load_queries(queries), modes or MODES)  # type: ignore[arg-type]
    if similar_k is not None:
        report[f"similar_category_P@{similar_k}"] = similar_category_precision(engine, similar_k)
    if not report:
        raise click.UsageError("give a QUERIES file, --similar K, or both")
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if "queries" in report:
        click.echo(format_table(report["queries"], "MRR@10"))
        click.echo()
        click.echo(format_table(report["queries"]))
    for name, value in report.items():
        if name != "queries":
            click.echo(f"{name}: {value:.3f}")
