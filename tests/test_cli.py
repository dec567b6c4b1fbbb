"""The ``news-search`` command: each subcommand, its output and its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from search.cli import EXIT_ERROR, main
from search.cli_output import EXIT_REJECTED

from .conftest import SEED_FILE, SEED_ID


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path]) -> Path:
    path = tmp_path_factory.mktemp("cli") / "index"
    result = CliRunner().invoke(main, ["rebuild", *map(str, tiny_sources), "--index", str(path)])
    assert result.exit_code == 0, result.output
    assert "indexed 6 articles" in result.output and "articles/s" in result.output
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_query_prints_ranked_hits_with_scores(cli_index: Path) -> None:
    code, out, _ = run("query", "Hegseth Brüssel", "--index", str(cli_index))
    assert code == 0
    assert f"[{SEED_ID}]" in out.splitlines()[1]
    assert "lexical" in out and "semantic" in out and "*Hegseth*" in out


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_query_json_in_each_mode(cli_index: Path, mode: str) -> None:
    code, out, _ = run(
        "query",
        "Hegseth Brüssel",
        "--index",
        str(cli_index),
        "--mode",
        mode,
        "--json",
        "--limit",
        "3",
    )
    assert code == 0
    data = json.loads(out)
    assert data["mode"] == mode and len(data["hits"]) <= 3
    assert {"lexical", "semantic", "fused"} <= set(data["hits"][0]["scores"])


def test_similar_by_id_and_text(cli_index: Path) -> None:
    code, out, _ = run("similar", SEED_ID, "--index", str(cli_index), "--json", "--limit", "2")
    assert code == 0
    assert SEED_ID not in [h["id"] for h in json.loads(out)["hits"]]
    code, out, _ = run("similar", "--text", "Fußball in Wien", "--index", str(cli_index))
    assert code == 0 and "[fussball]" in out


def test_stats_and_export(cli_index: Path) -> None:
    code, out, _ = run("stats", "--index", str(cli_index))
    stats = json.loads(out)
    assert code == 0 and stats["articles"] == 6 and stats["model"] == "use-multilingual-v3"
    code, out, _ = run("export", "--index", str(cli_index))
    exported = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(exported) == 6
    assert next(a for a in exported if a["id"] == SEED_ID)["date"] == "2025-02"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", '"Hegseth', "--strict"], "unclosed quote"),
        (["similar", "no-such-id"], "no article with id 'no-such-id'"),
        (["similar"], "either an article id or a text"),
    ],
)
def test_errors_print_one_line_and_exit_1(cli_index: Path, args: list[str], message: str) -> None:
    code, _out, err = run(*args, "--index", str(cli_index))
    lines = err.strip().splitlines()
    assert code == EXIT_ERROR
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_querying_an_unbuilt_index_says_to_rebuild(tmp_path: Path) -> None:
    code, _, err = run("query", "x", "--index", str(tmp_path / "none"))
    assert code == EXIT_ERROR and "rebuild" in err


def test_rebuild_reports_rejected_records_and_exits_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "ok", "text": "Gut."}\n{broken\n', encoding="utf-8")
    code, out, err = run("rebuild", str(SEED_FILE), str(bad), "--index", str(tmp_path / "i"))
    assert code == EXIT_REJECTED
    assert "indexed 2 articles" in out
    assert "bad.jsonl:2: malformed JSON" in err


def test_add_and_delete(tmp_path: Path) -> None:
    index = str(tmp_path / "i")
    assert run("rebuild", str(SEED_FILE), "--index", index)[0] == 0
    extra = tmp_path / "extra.jsonl"
    extra.write_text(
        '{"id": "neu", "text": "Ein Vulkan ist auf Island ausgebrochen."}\n', encoding="utf-8"
    )
    code, out, _ = run("add", str(extra), "--index", index)
    assert code == 0 and "added 1 articles" in out
    assert "[neu]" in run("query", "Vulkan", "--index", index)[1]
    code, out, _ = run("delete", "neu", "--index", index)
    assert code == 0 and "deleted 1 of 1" in out
    assert "0 matches" in run("query", "Vulkan", "--index", index, "--mode", "lexical")[1]
