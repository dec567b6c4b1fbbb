"""The ``news-search`` command line.

Exit codes: 0 success; 1 an error (one line on stderr); 2 a usage error;
3 the command finished but rejected some input records (listed on stderr,
``search.cli_output.EXIT_REJECTED``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from functools import wraps
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from tqdm import tqdm

from search.cli_options import (
    UserError,
    check_index_path,
    cluster_options,
    filter_options,
    index_option,
    json_option,
    limit_option,
    map_option,
    offset_option,
    parse_filters,
    read_key_file,
    serve_cluster_options,
    sort_option,
    wait_option,
)
from search.cli_output import print_report, print_results, progress_bar
from search.cluster.building import cluster_shard_sinks
from search.cluster.embedding import cluster_embedding
from search.cluster.reading import cluster_reading
from search.cluster.serving import describe, serving_cluster
from search.engine import Engine, shared_engine
from search.errors import IndexDamaged, SearchError
from search.ingest.readers import read_articles, read_stream
from search.retrieval.filters import Filters
from search.retrieval.fusion import DEFAULT_FUSION, FUSIONS
from search.retrieval.results import MODES, Mode, Sort
from search.settings import Settings
from search.storage.folder import IndexFolder
from search.storage.shards import DEFAULT_SHARD_BY, SHARD_BY, ShardBy
from search.workers import listen, run_workers

EXIT_ERROR = 1
F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    """Turn engine and file-system errors into one line on stderr and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SearchError as exc:
            click.echo(f"error: {exc}", err=True)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def _settings(index: Path | None, model: str | None = None) -> Settings:
    settings = Settings.from_env().with_overrides(index=index, model=model)
    check_index_path(settings.index)
    return settings


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
@click.option(
    "--shard-by",
    type=click.Choice(SHARD_BY),
    default=DEFAULT_SHARD_BY,
    show_default=True,
    help="Split the index into shards by the articles' year or month (undated "
    "articles get a shard of their own), or keep one shard.",
)
@map_option
@wait_option
@cluster_options
@_reports_errors
def rebuild(
    sources: tuple[Path, ...],
    index: Path | None,
    model: str | None,
    shard_by: ShardBy,
    field_map: dict[str, str],
    wait: float,
    ray_address: str | None,
    ray_workers: int | None,
    gpus_per_worker: float,
) -> None:
    """Build a fresh index from SOURCES (files or folders; default: seeds/).

    Reads text, JSONL, CSV, JSON, HTML pages, RSS/Atom feeds and WARC/ARC files,
    also gzip-, bzip2- or xz-compressed; every file of a folder is read or reported.
    """
    settings = _settings(index, model)
    paths = list(sources) or [Path("seeds")]
    if ray_address is None and (ray_workers or gpus_per_worker):
        raise click.UsageError("--ray-workers and --gpus-per-worker need --ray")
    with (
        cluster_embedding(ray_address, ray_workers, gpus_per_worker) as embed,
        progress_bar(paths) as (read, progress),
    ):
        # On a cluster the files are read and the shards built there too, a task each.
        cluster = embed is not None
        reading = cluster_reading(_notice) if cluster else read_articles
        sinks = cluster_shard_sinks(_notice) if cluster else None
        _engine, report = Engine.rebuild(
            paths,
            settings.index,
            model=settings.model,
            progress=progress,
            read=read,
            mapping=field_map,
            wait=wait,
            shard_by=shard_by,
            embed=embed,
            shard_sinks=sinks,
            read_sources=reading,
        )
    print_report(report, "indexed")


def _notice(line: str) -> None:
    """A line on stderr above the progress bar."""
    tqdm.write(line, file=sys.stderr)


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@map_option
@wait_option
@_reports_errors
def add(
    sources: tuple[Path, ...], index: Path | None, field_map: dict[str, str], wait: float
) -> None:
    """Add or replace (by id) the articles in SOURCES; ``-`` reads JSON lines from stdin."""
    engine = Engine(_settings(index).index, write_wait=wait)
    if Path("-") in sources:
        if len(sources) > 1:
            raise click.UsageError("give '-' (stdin) or files, not both")
        with progress_bar(None) as (read, progress):
            articles = read_stream(sys.stdin.buffer, "<stdin>", read, field_map)
            report = engine.write(articles, progress=progress, read=read)
    else:
        with progress_bar(list(sources)) as (read, progress):
            report = engine.add_files(list(sources), progress, read, field_map)
    print_report(report, "added")


@main.command()
@click.argument("ids", nargs=-1, required=True)
@index_option
@wait_option
@_reports_errors
def delete(ids: tuple[str, ...], index: Path | None, wait: float) -> None:
    """Delete articles by id."""
    deleted = Engine(_settings(index).index, write_wait=wait).delete(list(ids))
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
@offset_option
@click.option("--strict", is_flag=True, help="Malformed query syntax is an error, not words.")
@filter_options
@sort_option
@click.option("--facets", is_flag=True, help="Also count sources, categories, languages, dates.")
@click.option(
    "--no-collapse",
    is_flag=True,
    help="Show every copy of an agency story, not one hit per story.",
)
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
    sort: str,
    facets: bool,
    no_collapse: bool,
    as_json: bool,
    **filter_values: Any,
) -> None:
    """Search for TEXT: any text; well-formed query syntax is honoured."""
    filters = parse_filters(filter_values)
    engine = Engine(_settings(index).index)
    results = engine.search(
        text,
        mode=cast(Mode, mode),
        fusion=fusion,
        limit=limit,
        offset=offset,
        strict=strict,
        filters=filters,
        sort=cast(Sort, sort),
        facets=facets,
        collapse=not no_collapse,
    )
    print_results(results, as_json)


@main.command()
@click.argument("article_id", required=False)
@click.option("--text", default=None, help="Find articles like this text instead of an id.")
@index_option
@limit_option
@offset_option
@filter_options
@json_option
@_reports_errors
def similar(
    article_id: str | None,
    text: str | None,
    index: Path | None,
    limit: int,
    offset: int,
    as_json: bool,
    **filter_values: Any,
) -> None:
    """Articles similar to the article ARTICLE_ID (or to --text)."""
    filters = parse_filters(filter_values)
    engine = Engine(_settings(index).index)
    results = engine.similar(
        article_id=article_id, text=text, limit=limit, offset=offset, filters=filters
    )
    print_results(results, as_json)


@main.command()
@index_option
@_reports_errors
def stats(index: Path | None) -> None:
    """Show what the index holds and what built it."""
    click.echo(json.dumps(Engine(_settings(index).index).stats(), indent=2))


@main.command()
@index_option
@click.option("--query", "text", default=None, help="Only the matches of this query.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@sort_option
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many.")
@filter_options
@_reports_errors
def export(
    index: Path | None,
    text: str | None,
    mode: str,
    sort: str,
    limit: int | None,
    **filter_values: Any,
) -> None:
    """Write articles as JSONL to stdout: every one (an archive can be rebuilt from it),
    or with --query and the filters, the matches in ranking order."""
    filters = parse_filters(filter_values)
    if text is None and (filters != Filters() or sort != "relevance"):
        raise click.UsageError("the filters and --sort choose among the matches of --query")
    engine = Engine(_settings(index).index)
    if text is None:
        articles: Iterator[Any] = engine.articles()
    else:
        rows = engine.matches(text, mode=cast(Mode, mode), filters=filters, sort=cast(Sort, sort))
        articles = (article for article, _ranked in rows)
    out = sys.stdout
    for article in islice(articles, limit):
        out.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")


@main.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File whose first line is the key that allows writes "
    "[default: $NEWS_SEARCH_API_KEY; none: writes refused].",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Let browsers on this origin call the API (repeatable) "
    "[default: $NEWS_SEARCH_CORS_ORIGINS; none].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=os.cpu_count() or 1,
    show_default="the number of cores",
    help="Serving processes; they share one loaded index and model.",
)
@serve_cluster_options
@click.option("--api-key", hidden=True, default=None)
@_reports_errors
def serve(
    index: Path | None,
    host: str,
    port: int,
    api_key_file: Path | None,
    cors_origins: tuple[str, ...],
    workers: int,
    ray_address: str | None,
    replicas: int | None,
    api_key: str | None,
) -> None:
    """Serve the web API and search page.

    Reads are open to anyone who reaches the server unless $NEWS_SEARCH_READ_KEY is
    set; NEWS_SEARCH_QUERY_LOG=0 keeps requests (and so queries) out of the log.
    """
    import uvicorn

    if api_key is not None:
        # ``ps`` shows a command line to every local user.
        raise click.UsageError(
            "--api-key would show the key to everyone who can list processes; "
            "set NEWS_SEARCH_API_KEY or use --api-key-file"
        )
    key = read_key_file(api_key_file) if api_key_file else None
    settings = Settings.from_env().with_overrides(
        index=index, api_key=key, cors_origins=cors_origins or None
    )
    check_index_path(settings.index)
    if ray_address is None and replicas is not None:
        raise click.UsageError("--replicas needs --ray")
    if ray_address is not None:
        source = click.get_current_context().get_parameter_source("workers")
        if source == click.core.ParameterSource.COMMANDLINE and workers > 1:
            raise click.UsageError("--ray serves from one process; leave out --workers")
        workers = 1  # a Ray driver's connection does not survive a fork
    try:
        server = listen(host, port)  # before the model loads: a busy port is one line now
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    with serving_cluster(ray_address, settings.index, replicas or 1) as pool:
        # Open the index and load the model once, here: nothing built, a damaged file
        # or another model is one line now rather than a traceback from a worker's
        # startup, and the workers forked below share what was loaded.
        engine = shared_engine(settings.index, settings.model, pool.attach if pool else None)
        engine.embedder.encode(["warm-up"])
        os.environ.update(settings.to_env())
        bound = server.getsockname()[1]
        where = f"{workers} workers" if pool is None else describe(pool.placement())
        click.echo(f"serving {settings.index} on http://{host}:{bound}/ ({where})", err=True)
        started = time.perf_counter()
        config = uvicorn.Config(
            "api.app:create_app",
            factory=True,
            log_level="info",
            access_log=settings.query_log,
        )
        status = run_workers(workers, lambda: uvicorn.Server(config).run(sockets=[server]))
    # uvicorn exits 3 when it cannot start; 3 means rejected records here.
    if status:
        raise UserError(f"the server on {host}:{bound} stopped with an error (see above)")
    click.echo(f"stopped after {time.perf_counter() - started:.0f}s", err=True)


@main.command()
@index_option
@_reports_errors
def check(index: Path | None) -> None:
    """Verify every file of the live generation against its checksums, then open it."""
    from search.storage.integrity import CHECKSUMS_FILE, check_contents

    folder = IndexFolder(_settings(index).index)
    lease = folder.lease_current()
    problems = []
    if (lease.path / CHECKSUMS_FILE).exists():
        problems = check_contents(lease.path)
    else:
        click.echo(f"warning: {lease.name} was written without checksums; the next write adds them")
    if problems:
        for problem in problems[:-1]:
            click.echo(f"error: {problem}", err=True)
        raise IndexDamaged(problems[-1])
    engine = Engine(folder.path)  # the cheap checks and every part loading
    click.echo(f"ok: {lease.name}, {engine.stats()['articles']} articles")


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
    type=click.IntRange(1),
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
