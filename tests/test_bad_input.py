"""Bad input: each broken record is reported (file, line, reason), the rest is indexed,
and the exit status tells that records were rejected."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from search.cli import EXIT_ERROR, main
from search.cli_output import EXIT_REJECTED
from search.engine import Engine
from search.ingest.article import MAX_ARTICLE_CHARS
from search.ingest.readers import ReadReport, read_articles

from .generations import sides

TEN_MB = 10 * 1024 * 1024
UNREADABLE = Path("/proc/self/mem")  # opens, but reading it fails (EIO), even for root


def _jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def _good(n: int) -> dict[str, str]:
    return {"id": f"gut-{n}", "title": f"Gut {n}", "text": f"Ein gültiger Artikel Nummer {n}."}


class Case(NamedTuple):
    """A file with one bad record (or a bad whole file) among ``valid`` good ones."""

    file: str
    data: bytes
    line: int | None  # None: the whole file is rejected
    message: str
    valid: int


CASES: dict[str, Case] = {
    "malformed JSON line": Case(
        "malformed.jsonl", _jsonl(_good(1)) + b'{"id": "kaputt", "text": \n', 2, "malformed JSON", 1
    ),
    "invalid UTF-8": Case(
        "latin1.jsonl",
        _jsonl(_good(2)) + '{"id": "latin", "text": "Gr\xfc\xdfe"}\n'.encode("latin-1"),
        2,
        "not valid UTF-8",
        1,
    ),
    "binary file": Case("binary.jsonl", bytes(range(256)) * 64, None, "binary file", 0),
    "empty body": Case(
        "empty-body.jsonl",
        _jsonl(_good(3), {"id": "leer", "title": "Nur Titel", "text": "  "}),
        2,
        "no text",
        1,
    ),
    "id of the wrong type": Case(
        "list-id.jsonl", _jsonl({"id": ["a"], "text": "Liste."}, _good(4)), 1, "'id' must be", 1
    ),
    "duplicate ids in one batch": Case(
        "duplicates.jsonl",
        _jsonl(_good(5), {**_good(5), "title": "Zweite Fassung"}),
        2,
        "duplicate id 'gut-5'",
        1,
    ),
    "a 10 MB article": Case(
        "huge.jsonl",
        _jsonl({"id": "riesig", "text": "Wort " * (TEN_MB // 5)}, _good(6)),
        1,
        "line is longer than",
        1,
    ),
    "an article over the character limit": Case(
        "long.jsonl",
        _jsonl(_good(7), {"id": "lang", "text": "x" * (MAX_ARTICLE_CHARS + 1)}),
        2,
        "the limit is 1,000,000",
        1,
    ),
    "JSON array cut short": Case(
        "cut.json",
        b"[" + json.dumps(_good(8)).encode() + b', {"id": "x", "te',
        None,
        "ends early",
        1,
    ),
    "CSV without a text column": Case(
        "columns.csv", b"name,comment\nx,y\n", 1, "no text column", 0
    ),
    "CSV with a 10 MB cell": Case(
        "huge.csv",
        b"id,text\ngut-9,Ein Artikel.\nriesig," + b"x" * TEN_MB + b"\ngut-10,Noch einer.\n",
        3,
        "the limit is 1,000,000",
        2,
    ),
    "CSV row with invalid UTF-8": Case(
        "latin1.csv", b"id,text\ngut-11,Ein Artikel.\nlatin,Gr\xfc\xdfe\n", 3, "not valid UTF-8", 1
    ),
}
VALID = 2 + sum(case.valid for case in CASES.values())  # good.jsonl holds two


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A folder holding one good file and every bad case."""
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "good.jsonl").write_bytes(_jsonl(_good(100), _good(101)))
    for case in CASES.values():
        (folder / case.file).write_bytes(case.data)
    return folder


@pytest.mark.parametrize("name", list(CASES))
def test_each_bad_case_is_reported_with_file_line_and_reason(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    good, bad = tmp_path / "good.jsonl", tmp_path / case.file
    good.write_bytes(_jsonl(_good(100)))
    bad.write_bytes(case.data)
    report = ReadReport()
    ids = [a.id for a in read_articles([good, bad], report)]
    [error] = report.errors
    assert (Path(error.source).name, error.line) == (case.file, case.line)
    assert case.message in error.message
    # Everything else, in this file and in the others, is read.
    assert report.accepted == len(ids) == 1 + case.valid
    assert ids[0] == "gut-100" and all(i.startswith("gut-") for i in ids)


@pytest.mark.skipif(not UNREADABLE.exists(), reason="needs Linux /proc")
def test_an_unreadable_file_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(_good(1)))
    unreadable = tmp_path / "unreadable.jsonl"
    unreadable.symlink_to(UNREADABLE)
    report = ReadReport()
    assert [a.id for a in read_articles([tmp_path], report)] == ["gut-1"]
    assert [str(e) for e in report.errors] == [
        f"{unreadable}: cannot read file: Input/output error (after the start, near byte 0); "
        "the rest of the file is skipped",
    ]


def test_a_10_mb_line_is_skipped_without_holding_it_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    path.write_bytes(_jsonl({"id": "riesig", "text": "Wort " * (TEN_MB // 5)}, _good(1)))
    report = ReadReport()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        ids = [a.id for a in read_articles([path], report)]
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ids == ["gut-1"] and "line is longer than" in report.errors[0].message
    # Decoding and parsing the line whole would need about four times its size.
    assert peak < 2 * TEN_MB, f"peak {peak / 1e6:.0f} MB"
    assert time.perf_counter() - started < 5


def test_a_csv_keeps_line_separators_inside_a_quoted_article(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,text\nx,"Erste Zeile\u2028zweite Zeile"\n', encoding="utf-8")
    [article] = read_articles([path])
    assert article.body == "Erste Zeile\u2028zweite Zeile"


# -- through the command line -------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_add_indexes_the_good_records_lists_the_bad_and_exits_3(
    writable_engine: Engine, sources: Path
) -> None:
    index = str(writable_engine.folder.path)
    before = writable_engine.stats()["articles"]
    code, out, err = _run("add", str(sources), "--index", index)
    assert code == EXIT_REJECTED, err
    rejected = [line for line in err.splitlines() if line.startswith("rejected: ")]
    assert len(rejected) == len(CASES) and f"{len(CASES)} record(s) rejected" in err
    for case in CASES.values():
        where = str(sources / case.file) + ("" if case.line is None else f":{case.line}")
        assert any(r.startswith(f"rejected: {where}: ") and case.message in r for r in rejected)
    assert f"added {VALID} articles" in out
    assert writable_engine.stats()["articles"] == before + VALID
    generation = writable_engine.folder.current()
    valid = {"gut-100", "gut-101", *(f"gut-{n}" for n in range(1, 12))}
    lexical, vectors = sides(generation)
    assert len(valid) == VALID and valid <= lexical  # indexed, on both sides:
    assert lexical == vectors


def test_an_empty_folder_is_an_error_before_anything_is_touched(
    writable_engine: Engine, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(_good(1)))
    generations = writable_engine.folder.generations()
    code, _out, err = _run(
        "add", str(good), str(empty), "--index", str(writable_engine.folder.path)
    )
    assert code == EXIT_ERROR
    assert err.strip() == f"error: {empty}: folder holds no files"
    assert writable_engine.folder.generations() == generations


def test_exit_codes(writable_engine: Engine, tmp_path: Path) -> None:
    index = str(writable_engine.folder.path)
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(_good(1)))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"{nope\n")
    assert _run("add", str(good), "--index", index)[0] == 0
    assert _run("delete", "gut-1", "--index", index)[0] == 0
    assert _run("add", str(tmp_path / "missing.jsonl"), "--index", index)[0] == EXIT_ERROR
    assert _run("add", "--index", index)[0] == 2  # a usage error (click): no SOURCES
    assert _run("add", str(bad), "--index", index)[0] == EXIT_REJECTED
