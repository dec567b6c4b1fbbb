"""Archives as they come: one folder of pages, feeds, a crawl and CMS exports, rebuilt once.

The files are written by ``tests/archives.py``; each article is found by a word of
its own, boilerplate words are not indexed, and the summary counts each format.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from search.cli import main
from search.cli_output import EXIT_REJECTED
from search.engine import Engine
from search.ingest.readers import ReadReport, detect, jsonarray, read_articles, read_stream
from search.semantic.embedders import Embedder

from .archives import BOILERPLATE, WORDS, broken_files, make_archive, page


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "src")


@pytest.fixture(scope="module")
def rebuilt(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One ``rebuild FOLDER`` through the command line, with the packaged model."""
    index = tmp_path_factory.mktemp("archive-index") / "i"
    result = CliRunner().invoke(main, ["rebuild", str(archive), "--index", str(index)])
    assert result.exit_code == 0, result.output
    return index, result.stdout, result.stderr


def test_rebuild_of_a_folder_indexes_every_article_of_every_format(
    rebuilt: tuple[Path, str, str], embedder: Embedder
) -> None:
    index, out, _err = rebuilt
    assert f"indexed {len(WORDS)} articles" in out
    engine = Engine(index, embedder=embedder)
    for word, (_format, date) in WORDS.items():
        hits = engine.search(word, mode="lexical").hits
        assert len(hits) == 1, word
        assert hits[0].date == date, word


def test_boilerplate_of_pages_and_crawls_is_not_indexed(
    rebuilt: tuple[Path, str, str], embedder: Embedder
) -> None:
    engine = Engine(rebuilt[0], embedder=embedder)
    for word in BOILERPLATE:
        assert engine.search(word, mode="lexical").total == 0, word


def test_the_summary_counts_each_format(rebuilt: tuple[Path, str, str]) -> None:
    rows = {line.split()[0]: line.split() for line in rebuilt[2].splitlines() if line}
    expected = {"html": 1, "rss/atom": 3, "warc": 2, "jsonl": 2, "json": 1, "csv": 1}
    for name, indexed in expected.items():
        assert name in rows, rebuilt[2]
        assert int(rows[name][4]) == indexed, rows[name]  # the "indexed" column
    assert int(rows["warc"][5]) == 2  # the request and the image: skipped


def test_pages_keep_title_url_source_and_feeds_their_channel(archive: Path) -> None:
    articles = {a.url: a for a in read_articles([archive]) if a.url}
    page = articles["https://kurier.example/hafen"]
    assert (page.title, page.source, page.language) == (
        "Hafen wird erweitert",
        "kurier.example",
        "de",
    )
    item = articles["https://nord.example/leuchtturm"]
    # content:encoded, not the summary, is the text; the summary becomes the lead.
    assert "Kuttermuschel" in item.body and item.lead == "Kurzfassung zum Leuchtturm."
    assert item.source == "Nordkurier Feed"


def test_broken_and_unsupported_files_are_reported_and_nothing_else_is_lost(
    archive: Path, tmp_path: Path
) -> None:
    folder = make_archive(tmp_path / "mixed")
    expected = broken_files(folder)
    index = tmp_path / "i"
    result = CliRunner().invoke(main, ["rebuild", str(folder), "--index", str(index)])
    assert result.exit_code == EXIT_REJECTED, result.output
    lines = result.stderr.splitlines()
    for name, message in expected.items():
        assert any(str(folder / name) in line and message in line for line in lines), name
    skipped = [line for line in lines if line.startswith("skipped: ")]
    assert {Path(line.split(": ")[1]).name for line in skipped} == {"photo.png", "notes.bz2"}
    [truncated] = [line for line in lines if "truncated.jsonl.gz" in line]
    assert "after line" in truncated and "near byte" in truncated
    # Every good article and the lines before the cut are indexed.
    engine = Engine(index)
    assert engine.search("Kieselalge OR Salzwiese OR Firnkessel", mode="lexical").total == 3
    assert engine.get("t0").body == "Truncated 0."


def test_an_unsupported_file_named_on_its_own_is_an_error_naming_it(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = CliRunner().invoke(main, ["rebuild", str(photo), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {photo}: binary file, not text"


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("page.txt", b"<!DOCTYPE html><html><body>", "html"),
        ("feed.xml", b'<?xml version="1.0"?><rss version="2.0">', "rss/atom"),
        ("export", b'[{"id": 1}]', "json"),
        ("lines", b'{"id": 1}\n{"id": 2}', "jsonl"),
        ("crawl.bin", b"WARC/1.1\r\nWARC-Type: warcinfo", "warc"),
        ("old.dat", b"filedesc://crawl.arc 0.0.0.0", "warc"),
        ("table", "\ufeffid;Titel;Inhalt\n1;a;b".encode(), "csv"),
        ("0001", b"date 2025-02 Ein Lead.", "text"),
    ],
)
def test_the_format_is_chosen_by_content(name: str, head: bytes, expected: str) -> None:
    found = detect(name, head)
    assert not isinstance(found, str) and found.name == expected


def test_csv_from_a_german_excel_with_bom_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffID;Überschrift;Inhalt;Datum;Quelle\n"
        'a1;Hochwasser;"Der Pegel steigt; die Feuerwehr hilft.";05.07.2025;Kurier\n'.encode()
    )
    [article] = read_articles([path])
    assert (article.id, article.title, article.date, article.source) == (
        "a1",
        "Hochwasser",
        "2025-07-05",
        "Kurier",
    )
    assert article.body == "Der Pegel steigt; die Feuerwehr hilft."


def test_map_names_the_columns_the_readers_do_not_know(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"nr": "x9", "fliesstext": "Ein Text.", "am": "2025-01-02"}) + "\n")
    report = ReadReport()
    mapping = {"id": "nr", "body": "fliesstext", "date": "am"}
    [article] = read_articles([path], report, mapping)
    assert (article.id, article.body, article.date) == ("x9", "Ein Text.", "2025-01-02")


@pytest.mark.parametrize(
    ("raw", "date"),
    [
        ("05.07.2025", "2025-07-05"),
        ("Sat, 05 Jul 2025 10:00:00 +0200", "2025-07-05T10:00:00+02:00"),
        ("2025-07-05T08:00:00Z", "2025-07-05T08:00:00+00:00"),
        ("5. Juli 2025", "2025-07-05"),
        ("Juli 2025", "2025-07"),
    ],
)
def test_dates_in_newsroom_forms(raw: str, date: str) -> None:
    report = ReadReport()
    record = json.dumps({"id": "d", "text": "Text.", "pubDate": raw}).encode() + b"\n"
    [article] = read_stream(io.BytesIO(record), "d.jsonl", report)
    assert article.date == date and not report.warnings


def test_an_unreadable_date_leaves_the_article_undated_with_a_warning() -> None:
    report = ReadReport()
    record = json.dumps({"id": "d", "text": "Text.", "published": "gestern"}).encode()
    [article] = read_stream(io.BytesIO(record + b"\n"), "d.jsonl", report)
    assert article.date is None and not report.errors
    [warning] = report.warnings
    assert str(warning).startswith("d.jsonl:1: date 'gestern' could not be read")


def test_records_without_id_get_a_stable_one_from_their_url() -> None:
    record = json.dumps({"link": "https://x.example/a", "content": "Text."}).encode() + b"\n"
    first = read_stream(io.BytesIO(record), "a.jsonl", ReadReport())
    again = read_stream(io.BytesIO(record), "b.jsonl", ReadReport())
    assert [a.id for a in first] == [a.id for a in again]


def test_a_json_array_is_streamed_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonarray, "CHUNK", 7)  # every element crosses chunk boundaries
    items = [{"id": f"j{n}", "text": f"Artikel {n} über Graz."} for n in range(30)]
    data = gzip.compress(json.dumps(items, ensure_ascii=False).encode())
    articles = list(read_stream(io.BytesIO(data), "export.json.gz", ReadReport()))
    assert [a.id for a in articles] == [f"j{n}" for n in range(30)]


def test_a_json_envelope_and_a_single_object(tmp_path: Path) -> None:
    (tmp_path / "wp.json").write_text(json.dumps({"posts": [{"id": "p", "content": "A."}]}))
    (tmp_path / "one.json").write_text(json.dumps({"id": "o", "body": "B."}))
    assert sorted(a.id for a in read_articles([tmp_path])) == ["o", "p"]


def test_map_through_the_command_line_and_a_bad_map_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "cms.csv"
    path.write_text("Nummer;Fliesstext\nn1;Die Fähre legt heute ab.\n", encoding="utf-8")
    index = str(tmp_path / "i")
    good = [
        "rebuild",
        str(path),
        "--index",
        index,
        "--map",
        "id=Nummer",
        "--map",
        "text=Fliesstext",
    ]
    result = CliRunner().invoke(main, good)
    assert result.exit_code == 0, result.output
    assert Engine(index).get("n1").body == "Die Fähre legt heute ab."
    bad = CliRunner().invoke(main, ["rebuild", str(path), "--index", index, "--map", "wort=x"])
    assert bad.exit_code == 2 and "unknown field 'wort'" in bad.stderr


@pytest.mark.parametrize("wrap", [bz2.compress, lzma.compress, gzip.compress])
def test_bzip2_xz_and_gzip_around_a_line_format(wrap: Callable[[bytes], bytes]) -> None:
    lines = b"".join(b'{"id": "z%d", "text": "Text %d."}\n' % (n, n) for n in range(3))
    articles = list(read_stream(io.BytesIO(wrap(lines)), "lines.jsonl.packed", ReadReport()))
    assert [a.id for a in articles] == ["z0", "z1", "z2"]


def test_an_old_arc_file_is_read_like_a_warc() -> None:
    version = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    header = b"filedesc://old.arc 0.0.0.0 20030506000000 text/plain %d\n" % len(version)
    html = page(
        "Alter Bericht", "Ein Bericht über den Leuchtkäfer.", "2003-05-06", "http://a.example/x"
    )
    payload = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    record = b"http://a.example/x 127.0.0.1 20030506000000 text/html %d\n" % len(payload)
    data = header + version + b"\n" + record + payload + b"\n"
    [article] = read_stream(io.BytesIO(data), "old.arc", ReadReport())
    assert (article.date, article.url) == ("2003-05-06", "http://a.example/x")
    assert "Leuchtkäfer" in article.body
