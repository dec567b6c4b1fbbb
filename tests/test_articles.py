"""Readers: the seed format, JSONL and CSV, and how bad records are reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.errors import InputError
from search.ingest.article import stable_id
from search.ingest.dates import date_period, normalise_date, read_date
from search.ingest.readers import ReadReport, read_articles
from search.ingest.readers.seed import parse_seed_text

from .conftest import SEED_FILE, SEED_ID


def test_seed_file_is_read_with_date_lead_title_and_body() -> None:
    [article] = list(read_articles([SEED_FILE]))
    assert article.id == SEED_ID
    assert article.date == "2025-02"
    # The title is the lead's first sentence, whole.
    assert article.lead.startswith(article.title)
    assert article.title.startswith("US-Präsident Donald Trump und")
    assert article.title.endswith("Ende des Ukraine-Krieges geeinigt.")
    assert article.title.count(".") == 1
    assert "Pete Hegseth" in article.body
    assert not article.body.startswith("date")


def test_seed_format_tolerates_leading_whitespace_and_a_day() -> None:
    article = parse_seed_text("  \n date 2025-02-13 Ein Lead. Mehr Lead.\n\nDer Text.", "x")
    assert (article.date, article.lead, article.title, article.body) == (
        "2025-02-13",
        "Ein Lead. Mehr Lead.",
        "Ein Lead.",
        "Der Text.",
    )


def test_seed_without_date_line_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("Kein Datum hier\n\nText", encoding="utf-8")
    report = ReadReport()
    assert list(read_articles([tmp_path], report)) == []
    [error] = report.errors
    assert error.line == 1 and "date" in error.message and "bad.txt" in error.source


def test_jsonl_reads_fields_and_ignores_unknown_ones(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "a1",
                "text": "Erster Satz. Zweiter Satz.",
                "date": "2025-02-13T10:00:00Z",
                "source": "derStandard.at",
                "language": "DE",
                "extra": [1, 2],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    [article] = list(read_articles([path]))
    assert article.title == "Erster Satz."
    assert article.date == "2025-02-13T10:00:00+00:00"
    assert (article.source, article.language) == ("derStandard.at", "de")


def test_jsonl_bad_records_are_reported_with_line_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"id": "ok1", "text": "Gut."}),
        '{"id": "broken", "text": ',
        json.dumps({"text": "ohne id"}),
        json.dumps({"id": "leer", "text": "   "}),
        json.dumps({"id": "datum", "text": "x", "date": "2025-13"}),
        json.dumps({"id": "typ", "text": 42}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "ok1", "text": "Doppelt."}),
        json.dumps({"id": "ok2", "body": "Auch gut."}),
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "bin", "text": "\xff"}\n')
    report = ReadReport()
    articles = {a.id: a for a in read_articles([path], report)}
    # Without an id, an article gets a stable one from its text; an unreadable date
    # leaves it undated, with a warning.
    derived = stable_id(None, "\n\nohne id")
    assert list(articles) == ["ok1", derived, "datum", "ok2"]
    assert articles["datum"].date is None
    [warning] = report.warnings
    assert warning.line == 5 and "no month 13" in warning.message
    by_line = {e.line: e.message for e in report.errors}
    assert "malformed JSON" in by_line[2]
    assert "no text" in by_line[4]
    assert "'text' must be a string" in by_line[6]
    assert "JSON object" in by_line[7]
    assert "duplicate id 'ok1'" in by_line[8]
    assert "UTF-8" in by_line[10]
    assert report.accepted == 4


def test_csv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        'id,title,text,date\nc1,Titel,"Text, mit Komma.",2024\nc2,,,\n', encoding="utf-8"
    )
    report = ReadReport()
    [article] = list(read_articles([path], report))
    assert (article.id, article.title, article.body, article.date) == (
        "c1",
        "Titel",
        "Text, mit Komma.",
        "2024",
    )
    assert report.errors[0].line == 3 and "no text" in report.errors[0].message


def test_csv_without_a_text_column_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,comment\nx,y\n", encoding="utf-8")
    report = ReadReport()
    assert list(read_articles([path], report)) == []
    assert "no text column" in report.errors[0].message and "--map" in report.errors[0].message


@pytest.mark.parametrize("make", ["missing", "empty_folder", "suffix"])
def test_unreadable_sources_fail_before_reading(tmp_path: Path, make: str) -> None:
    target = {
        "missing": tmp_path / "nope.jsonl",
        "empty_folder": tmp_path,
        "suffix": tmp_path / "a.pdf",
    }[make]
    if make == "suffix":
        target.write_bytes(b"%PDF")
    with pytest.raises(InputError, match=str(target.name) if make != "empty_folder" else "no"):
        list(read_articles([target]))


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("2025", "2025"),
        ("2025-2", "2025-02"),
        ("2025-02-13", "2025-02-13"),
        ("2025-02-13T10:30:00+01:00", "2025-02-13T10:30:00+01:00"),
        (None, None),
        ("", None),
    ],
)
def test_dates_keep_their_precision(raw: str | None, norm: str | None) -> None:
    assert normalise_date(raw) == norm


@pytest.mark.parametrize("raw", ["yesterday", "2025-02-30", "0001", "2025-00"])
def test_nonsense_dates_are_errors(raw: str) -> None:
    with pytest.raises(ValueError, match="date"):
        normalise_date(raw)
    date, problem = read_date(raw)
    assert date is None and problem is not None and raw in problem


def test_date_period_covers_the_given_precision() -> None:
    start, end = date_period("2024-12")
    assert (start.isoformat(), end.isoformat()) == ("2024-12-01T00:00:00", "2025-01-01T00:00:00")


def test_language_is_detected_when_the_record_has_none() -> None:
    from search.ingest.article import article_from_fields

    english = article_from_fields(
        {
            "id": "e",
            "text": "The minister met his colleagues in Brussels to discuss support for Ukraine.",
        }
    )
    german = article_from_fields(
        {
            "id": "g",
            "text": "Der Minister traf seine Kollegen in "
            "Brüssel, um über die Hilfe für die Ukraine zu beraten.",
        }
    )
    given = article_from_fields({"id": "f", "text": "Texte.", "language": "FR"})
    digits = article_from_fields({"id": "d", "text": "12 345"})
    assert (english.language, german.language, given.language, digits.language) == (
        "en",
        "de",
        "fr",
        None,
    )
