"""Damaged index files are named in one line, never a traceback or a quietly wrong answer.

Each file of a generation is truncated, has bytes flipped, or is deleted in turn;
opening the index either reports it (one ``error:`` line naming the file, exit 1, or
503 over HTTP) or ``news-search check`` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from api.app import create_app
from search.cli import EXIT_ERROR, main
from search.semantic.embedders import Embedder
from search.settings import Settings
from search.storage.folder import CURRENT_FILE

from .generations import shard_folders

DAMAGES = ("truncate", "flip", "delete")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path]) -> Path:
    """A built index, copied for every case (built through the CLI, as users do)."""
    index = tmp_path_factory.mktemp("pristine") / "index"
    result = CliRunner().invoke(main, ["rebuild", *map(str, tiny_sources), "--index", str(index)])
    assert result.exit_code == 0, result.output
    return index


def _generation(index: Path) -> Path:
    return index / (index / CURRENT_FILE).read_text(encoding="utf-8").strip()


def _files(index: Path) -> list[str]:
    generation = _generation(index)
    return sorted(
        p.relative_to(generation).as_posix()
        for p in generation.rglob("*")
        if p.is_file() and not p.name.endswith("LOCK")
    )


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        middle = len(data) // 2
        path.write_bytes(
            data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 8]) + data[middle + 8 :]
        )
    else:
        path.unlink()


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _one_error_line(result: Result, name: str) -> None:
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"traceback: {result.exception!r}"
    assert result.exit_code == EXIT_ERROR, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and Path(name).name in lines[-1], result.output


def test_the_listed_files_are_every_file_of_a_generation(pristine: Path) -> None:
    listed = json.loads((_generation(pristine) / "checksums.json").read_text())["files"]
    assert sorted(listed) == [f for f in _files(pristine) if f != "checksums.json"]


@pytest.mark.parametrize("how", DAMAGES)
def test_every_damaged_file_is_named_by_open_or_by_check(
    pristine: Path, tmp_path: Path, how: str
) -> None:
    for name in _files(pristine):
        index = tmp_path / f"{how}-{name.replace('/', '-')}"
        shutil.copytree(pristine, index)
        _damage(_generation(index) / name, how)
        opened = _run("stats", "--index", str(index))
        query = _run("query", "Derby", "--mode", "lexical", "--index", str(index))
        assert query.exit_code in (0, EXIT_ERROR) and isinstance(
            query.exception, SystemExit | None
        ), f"{how} {name}: {query.exception!r}"
        if opened.exit_code == 0:
            _one_error_line(_run("check", "--index", str(index)), name)
        else:
            _one_error_line(opened, name)
            assert len(opened.output.strip().splitlines()) == 1


def test_check_passes_an_intact_index(pristine: Path) -> None:
    result = _run("check", "--index", str(pristine))
    assert result.exit_code == 0 and result.output.startswith("ok: "), result.output


def test_a_wrong_dimension_or_a_one_sided_article_is_named(pristine: Path, tmp_path: Path) -> None:
    index = tmp_path / "dim"
    shutil.copytree(pristine, index)
    keys = shard_folders(_generation(index))[0] / "vectors.json"
    data = json.loads(keys.read_text())
    data["dim"] += 1
    keys.write_text(json.dumps(data))
    (_generation(index) / "checksums.json").unlink()  # as if edited by someone who knew
    manifest = json.loads((_generation(index) / "manifest.json").read_text())
    manifest["checksummed"] = False
    (_generation(index) / "manifest.json").write_text(json.dumps(manifest))
    _one_error_line(_run("stats", "--index", str(index)), "manifest.json")
    data["dim"] -= 1
    data["articles"].pop(next(iter(data["articles"])))
    keys.write_text(json.dumps(data))
    _one_error_line(_run("stats", "--index", str(index)), "vectors.json")


def test_current_never_leads_outside_the_index_folder(pristine: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(pristine, index)
    shutil.copytree(_generation(index), tmp_path / "elsewhere")
    for name in ("../elsewhere", str(tmp_path / "elsewhere"), "gen-000001/../../elsewhere"):
        (index / CURRENT_FILE).write_text(name + "\n")
        _one_error_line(_run("stats", "--index", str(index)), CURRENT_FILE)


def test_a_damaged_generation_is_503_over_http_without_a_path(
    pristine: Path, tmp_path: Path, embedder: Embedder
) -> None:
    index = tmp_path / "index"
    shutil.copytree(pristine, index)
    with TestClient(create_app(Settings(index=index))) as client:
        assert client.get("/health").status_code == 200
        # A new generation appears, with a truncated vector file, and CURRENT names it.
        damaged = index / "gen-000099"
        shutil.copytree(_generation(index), damaged)
        _damage(shard_folders(damaged)[0] / "vectors.faiss", "truncate")
        (index / CURRENT_FILE).write_text("gen-000099\n")
        for path in ("/health", "/search?q=Derby", "/stats"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            error = response.json()["error"]
            assert error["status"] == 503 and "damaged" in error["message"]
            assert str(tmp_path) not in response.text


def test_serve_on_a_damaged_index_is_one_line_not_a_startup_traceback(
    pristine: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(pristine, index)
    _damage(shard_folders(_generation(index))[0] / "vectors.faiss", "truncate")
    _one_error_line(_run("serve", "--index", str(index), "--port", "0"), "vectors.faiss")
