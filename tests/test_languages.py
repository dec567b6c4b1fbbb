"""Each analysed language gets its own stemming: English articles in English, the rest in German."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.engine import Engine
from search.errors import IndexNotBuilt
from search.ingest.article import Article
from search.ingest.languages import detect_language
from search.lexical.analysis import analysis_language, analyze
from search.semantic.embedders import Embedder
from search.storage.folder import IndexFolder
from search.storage.manifest import MANIFEST_FILE

ENGLISH = Article(
    id="en-vote",
    title="Voters elected a new parliament",
    body="The governing party was elected again; turnout rose in every district.",
    language="en",
)
# No language in the record: detected, and then analysed as English.
UNLABELLED_ENGLISH = Article(
    id="en-storm",
    title="Storms flooded the harbour",
    body="Heavy storms flooded the old harbour overnight, and ferries stayed in port.",
)
GERMAN = Article(
    id="de-wahl",
    title="Verhandlungen über die Regierung",
    body="Nach der Wahl beginnen in Wien die Verhandlungen über eine neue Regierung.",
    language="de",
)


@pytest.mark.parametrize(
    ("language", "code"),
    [("en", "en"), ("EN-GB", "en"), ("de", "de"), ("fr", "de"), (None, "de"), ("", "de")],
)
def test_languages_without_their_own_analysis_get_the_german_one(
    language: str | None, code: str
) -> None:
    assert analysis_language(language) == code


def test_english_stemming_joins_what_german_stemming_keeps_apart() -> None:
    assert analyze("elections", language="en") == analyze("elected", language="en") == ["elect"]
    assert analyze("elections") != analyze("elected")


def test_english_analysis_keeps_acronyms_compounds_and_stop_words() -> None:
    assert analyze("US troops", language="en") == ["us", "troop"]
    assert analyze("told us", language="en") == ["told"]
    assert analyze("ceasefire-talks", mode="index", language="en") == [
        "ceasefir",
        "talk",
        "ceasefiretalk",
    ]


@pytest.fixture
def mixed(writable_engine: Engine) -> Engine:
    writable_engine.write([ENGLISH, UNLABELLED_ENGLISH, GERMAN])
    return writable_engine


def _lexical_ids(engine: Engine, query: str) -> list[str]:
    return [hit.id for hit in engine.search(query, mode="lexical").hits]


def test_an_english_query_finds_other_forms_of_its_words_in_english_articles(
    mixed: Engine,
) -> None:
    assert detect_language(UNLABELLED_ENGLISH.text) == "en"
    assert _lexical_ids(mixed, "elections") == ["en-vote"]
    assert _lexical_ids(mixed, "flooding storm") == ["en-storm"]
    assert _lexical_ids(mixed, "Verhandlung Wahlen")[0] == "de-wahl"


def test_a_field_named_in_the_query_covers_every_language(mixed: Engine) -> None:
    assert _lexical_ids(mixed, "title:elections") == ["en-vote"]
    assert _lexical_ids(mixed, "title:Verhandlung") == ["de-wahl"]
    assert _lexical_ids(mixed, "body:elections title:parliament") == ["en-vote"]


def test_english_articles_are_stored_and_highlighted_as_written(mixed: Engine) -> None:
    assert mixed.get("en-vote") == ENGLISH
    hit = mixed.search("elections", mode="lexical").hits[0]
    assert hit.title == ENGLISH.title
    assert "<mark>elected</mark>" in hit.snippet


def test_an_index_of_an_older_schema_asks_for_a_rebuild(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    index = tmp_path / "index"
    Engine.rebuild(tiny_sources, index, embedder=embedder)
    manifest = IndexFolder(index).current() / MANIFEST_FILE
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "schema_version": 1}), encoding="utf-8")
    with pytest.raises(IndexNotBuilt, match=r"schema version 1 .*rebuild"):
        Engine(index, embedder=embedder)
