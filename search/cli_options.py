"""Options several ``news-search`` commands share, and the checks made before one starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from search.errors import SearchError
from search.ingest.article import parse_mapping
from search.retrieval.filters import Filters
from search.retrieval.results import SORTS
from search.storage.folder import CURRENT_FILE

F = TypeVar("F", bound=Callable[..., Any])


class UserError(SearchError):
    """A mistake in how the command was called that only the CLI can see (a path, a port)."""


def check_index_path(path: Path) -> None:
    """Refuse an index path that is a file, or a folder inside a live index.

    Checked before anything is read or written: ``--index archive.jsonl`` or
    ``--index index/gen-000001`` is a slip that must not build an index there.
    """
    if path.exists() and not path.is_dir():
        raise UserError(f"{path} is a file, not an index folder")
    for parent in path.resolve().parents:
        if (parent / CURRENT_FILE).is_file():
            raise UserError(f"{path} is inside the index folder {parent}; give {parent} itself")


def filter_options(command: F) -> F:
    """--from, --to, --source, --category and --language, as the API's filters."""
    options = [
        click.option("--from", "date_from", default=None, help="Earliest date: YYYY[-MM[-DD]]."),
        click.option("--to", "date_to", default=None, help="Latest date: YYYY[-MM[-DD]]."),
        click.option("--source", multiple=True, help="Only this source (repeatable)."),
        click.option("--category", multiple=True, help="Only this category (repeatable)."),
        click.option("--language", multiple=True, help="Only this language (repeatable)."),
    ]
    return _stacked(command, options)


def parse_filters(options: dict[str, Any]) -> Filters:
    """The filters among the options (taken out of ``options``); a bad one is a usage error."""
    try:
        return Filters.parse(
            options.pop("date_from"),
            options.pop("date_to"),
            options.pop("source"),
            options.pop("language"),
            options.pop("category"),
        )
    except SearchError as exc:
        raise click.BadParameter(str(exc)) from exc


sort_option = click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="relevance",
    show_default=True,
    help="relevance, date (newest first) or date_asc.",
)


wait_option = click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another writer to finish instead of failing at once.",
)


def read_key_file(path: Path) -> str:
    """The key in the first line of ``path`` (a key never goes on a command line)."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--api-key-file") from exc
    if not key:
        raise click.BadParameter(f"{path} is empty", param_hint="--api-key-file")
    return key


def _field_map(
    _ctx: click.Context, _param: click.Parameter, pairs: tuple[str, ...]
) -> dict[str, str]:
    """``--map`` values as our field -> their name; a bad one is a usage error."""
    try:
        return parse_mapping(pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


map_option = click.option(
    "--map",
    "field_map",
    multiple=True,
    metavar="FIELD=NAME",
    callback=_field_map,
    help="Read FIELD (id, title, lead, text, date, source, url, language, category) from "
    "the records' NAME, e.g. --map text=Inhalt; repeatable. Common names are known already.",
)


index_option = click.option(
    "--index",
    type=click.Path(path_type=Path),
    default=None,
    help="Index folder [default: $NEWS_SEARCH_INDEX or ./index].",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


limit_option = click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
offset_option = click.option(
    "--offset", type=click.IntRange(0, 10_000), default=0, show_default=True
)


def _stacked(command: F, options: list[Callable[[F], F]]) -> F:
    """``command`` with ``options``, listed in ``--help`` in the order given."""
    for option in reversed(options):
        command = option(command)
    return command


def cluster_options(command: F) -> F:
    """``--ray``, ``--ray-workers`` and ``--gpus-per-worker``: embed on a Ray cluster."""
    options = [
        click.option(
            "--ray",
            "ray_address",
            default=None,
            metavar="ADDRESS",
            help="Read the sources, embed and build the shards on a Ray cluster: 'auto' "
            "(the one `ray start` left here), HOST:PORT of its head, or 'local' (start "
            "one on this machine). Every node must see the sources and the index "
            "folder. Needs the cluster extra.",
        ),
        click.option(
            "--ray-workers",
            type=click.IntRange(1, 10_000),
            default=None,
            help="Embedding actors, one model each [default: one per CPU of the cluster, "
            "or per --gpus-per-worker of its GPUs].",
        ),
        click.option(
            "--gpus-per-worker",
            type=click.FloatRange(0, 64),
            default=0.0,
            show_default=True,
            help="GPUs each embedding actor holds (fractions share a GPU).",
        ),
    ]
    return _stacked(command, options)


def serve_cluster_options(command: F) -> F:
    """``--ray`` and ``--replicas``: shard searchers on a Ray cluster."""
    options = [
        click.option(
            "--ray",
            "ray_address",
            default=None,
            metavar="ADDRESS",
            help="Search each shard's vectors on a Ray cluster: 'auto', HOST:PORT of its "
            "head, or 'local'. Every node must see the index folder. Needs the cluster "
            "extra; serves from one process.",
        ),
        click.option(
            "--replicas",
            type=click.IntRange(1, 64),
            default=None,
            help="Searchers of each shard, each on another node where there are enough "
            "[default: 1].",
        ),
    ]
    return _stacked(command, options)
