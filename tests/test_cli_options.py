"""The CLI has the API's powers (filters, sort, facets, export by query, similar pages),
and each user error is one line with the documented exit code, never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from search.cli import EXIT_ERROR, main
from search.cli_output import SNIPPET_CHARS, shorten

from .conftest import SEED_FILE, SEED_ID

EVERYTHING = "Hegseth OR Brüssel OR Derby OR Börse OR Hitzewelle"
EXIT_USAGE = 2


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path]) -> Path:
    path = tmp_path_factory.mktemp("cli-options") / "index"
    result = CliRunner().invoke(main, ["rebuild", *map(str, tiny_sources), "--index", str(path)])
    assert result.exit_code == 0, result.output
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception  # a traceback would have reached the user
    return result.exit_code, result.stdout, result.stderr


def _json_ids(out: str) -> list[str]:
    return [hit["id"] for hit in json.loads(out)["hits"]]


def test_query_takes_the_filters_sort_and_facets(cli_index: Path) -> None:
    index = ("--index", str(cli_index), "--mode", "lexical")
    code, out, _ = run(
        "query", EVERYTHING, *index, "--from", "2025-02", "--to", "2025-03", "--json"
    )
    assert code == 0 and set(_json_ids(out)) == {SEED_ID, "eu-gipfel"}
    code, out, _ = run(
        "query",
        EVERYTHING,
        *index,
        "--source",
        "TEST",
        "--category",
        "politik",
        "--category",
        "sport",
        "--sort",
        "date",
        "--json",
    )
    assert code == 0 and _json_ids(out) == ["fussball", "eu-gipfel", "hegseth-pentagon"]
    code, out, _ = run("query", EVERYTHING, *index, "--language", "de-AT", "--facets")
    assert code == 0
    assert "category: politik 2" in out and "per month: " in out and "source: test" in out
    code, out, _ = run("query", EVERYTHING, *index, "--facets", "--json")
    assert json.loads(out)["facets"]["timeline"]["unit"] == "month"


def test_query_prints_each_score_once_and_snippets_end_at_a_word(cli_index: Path) -> None:
    code, out, _ = run("query", "Hegseth", "--index", str(cli_index), "--mode", "lexical")
    assert code == 0
    score_lines = [line for line in out.splitlines() if line.strip().startswith("lexical ")]
    assert score_lines and all(line.count("lexical") == 1 for line in score_lines)
    text = "Wort " * 100
    short = shorten(text)
    assert len(short) <= SNIPPET_CHARS + 2 and short.endswith("Wort …")
    assert shorten("kurz") == "kurz"


def test_export_takes_a_query_filters_and_a_limit(cli_index: Path) -> None:
    base = ("export", "--index", str(cli_index))
    code, out, _ = run(*base, "--query", EVERYTHING, "--mode", "lexical", "--category", "politik")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {r["id"] for r in rows} == {"eu-gipfel", "hegseth-pentagon"}
    assert all(r["category"] == "politik" for r in rows) and "body" in rows[0]
    code, out, _ = run(
        *base, "--query", EVERYTHING, "--mode", "lexical", "--sort", "date_asc", "--limit", "2"
    )
    assert code == 0 and [json.loads(x)["id"] for x in out.splitlines()] == [
        "klima",
        "boerse",
    ]
    code, _, err = run(*base, "--category", "politik")
    assert code == EXIT_USAGE and "--query" in err


def test_similar_pages_with_offset(cli_index: Path) -> None:
    base = ("similar", SEED_ID, "--index", str(cli_index), "--json")
    first = _json_ids(run(*base, "--limit", "4")[1])
    second = _json_ids(run(*base, "--limit", "2", "--offset", "2")[1])
    assert len(first) == 4 and second == first[2:]


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_an_index_that_is_a_file_is_refused(cli_index: Path, tmp_path: Path) -> None:
    archive = tmp_path / "some.jsonl"
    archive.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    for command in (["query", "x"], ["similar", SEED_ID], ["stats"], ["export"]):
        code, _, err = run(*command, "--index", str(archive))
        assert code == EXIT_ERROR and "not an index folder" in _one_error_line(err), command
    code, _, err = run("rebuild", str(SEED_FILE), "--index", str(archive))
    assert code == EXIT_ERROR and "not an index folder" in _one_error_line(err)
    assert archive.read_text(encoding="utf-8") == '{"id": "a", "text": "x"}\n'


def test_rebuild_inside_a_live_index_is_refused_before_writing(cli_index: Path) -> None:
    generation = next(p for p in cli_index.iterdir() if p.name.startswith("gen-"))
    before = sorted(p.name for p in generation.iterdir())
    for target in (generation, generation / "new"):
        code, _, err = run("rebuild", str(SEED_FILE), "--index", str(target))
        assert code == EXIT_ERROR and "inside the index folder" in _one_error_line(err)
    assert sorted(p.name for p in generation.iterdir()) == before
    assert not (generation / "new").exists()


@pytest.mark.parametrize("k", ["0", "-5"])
def test_eval_similar_below_one_is_a_usage_error(cli_index: Path, k: str) -> None:
    code, out, err = run("eval", "--index", str(cli_index), "--similar", k)
    assert code == EXIT_USAGE and "--similar" in err and "precision" not in out


def test_serve_on_a_busy_port_is_error_1(cli_index: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run("serve", "--index", str(cli_index), "--port", str(port))
    assert code == EXIT_ERROR and f"127.0.0.1:{port}" in _one_error_line(err)


def test_bad_filter_values_are_usage_errors(cli_index: Path) -> None:
    code, _, err = run("query", "x", "--index", str(cli_index), "--from", "yesterday")
    assert code == EXIT_USAGE and "from" in err
