"""German compound splitting: which words are split, into what, and what an index does with it."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from whoosh.analysis import RegexTokenizer

from search.ingest.article import Article
from search.lexical.analysis import TOKEN_PATTERN, NewsFilter, analyze
from search.lexical.index import LexicalIndex


def parts(word: str) -> list[str]:
    """The terms a German article's ``word`` adds beside its own, with compounds on."""
    terms = analyze(word, mode="index", compounds=True)
    assert terms[0] == analyze(word)[0], "the whole word keeps its own term"
    return terms[1:]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Hitzesommer", ["hitz", "somm"]),
        # linking morphemes: -s-, -n- / -en-
        ("Sanierungskosten", ["sanier", "kost"]),
        ("Lawinenwarnung", ["lawin", *analyze("Warnung")]),
        # an inflected head is matched by its stem
        ("Rathausschließungen", ["rathaus", *analyze("Schließung")]),
        # the fewest parts: Straßenbahn is a word, so no Straße + Bahn + Ausbau
        ("Straßenbahnausbau", ["strassenbahn", "ausbau"]),
    ],
)
def test_a_coined_compound_indexes_its_parts(word: str, expected: list[str]) -> None:
    assert parts(word) == expected


def test_parts_are_terms_as_a_query_word_analyses_them() -> None:
    # A query that writes the words apart meets the compound in the index.
    assert set(analyze("Hitze im Sommer")) == set(parts("Hitzesommer"))
    assert set(analyze("Kosten der Sanierung")) == set(parts("Sanierungskosten"))


@pytest.mark.parametrize(
    "word",
    [
        "Krankenhaus",  # a word of its own: not about a Haus
        "Kindergarten",
        "Elternteil",  # "elt" is too short to be a part
        "Wetterdienst",  # "dienst" would be, but "Wetter" + "dienst" is a listed word
        "wunderschön",  # not capitalised: no noun
        "Wunder",  # too short to hold two parts
        "NATO",  # an acronym
        "Covid19Impfung",  # not all letters
    ],
)
def test_words_that_are_not_coined_compounds_stay_whole(word: str) -> None:
    assert parts(word) == []


def test_compounds_are_split_only_in_german_and_only_when_on() -> None:
    assert analyze("Hitzesommer", mode="index") == ["hitzesomm"]  # off by default
    english = analyze("Hitzesommer", mode="index", language="en", compounds=True)
    assert len(english) == 1
    # Queries never split: the query word asks for the compound itself.
    assert analyze("Hitzesommer", compounds=True) == ["hitzesomm"]


def test_parts_share_the_position_of_their_compound() -> None:
    words = RegexTokenizer(TOKEN_PATTERN)("Hitzesommer endet", mode="index", positions=True)
    tokens = NewsFilter("de", compounds=True)(words)
    assert [(t.text, t.pos) for t in tokens] == [
        ("hitzesomm", 0),
        ("hitz", 0),
        ("somm", 0),
        (*analyze("endet"), 1),
    ]


@pytest.mark.parametrize(
    ("compounds", "expected"), [(True, ["hitze", "regen"]), (False, ["regen"])]
)
def test_an_index_keeps_the_setting_it_was_built_with(
    tmp_path: Path, compounds: bool, expected: list[str]
) -> None:
    folder = tmp_path / "lexical"
    LexicalIndex.create(folder, compounds=compounds).close()
    reopened = LexicalIndex(folder)  # as a later write opens it
    with reopened.writer() as writer:
        writer.upsert(Article("hitze", "Der Hitzesommer trocknet die Flüsse aus."))
        writer.upsert(Article("regen", "Ein verregneter Sommer ohne Ende."))
    found = reopened.search(reopened.parser.parse("Hitze Sommer"), depth=10)
    # With its parts indexed the compound holds both words and ranks first.
    assert [article_id for article_id, _score in found.ranked] == expected
    reopened.close()


def test_an_index_written_before_compounds_existed_does_not_split() -> None:
    # Whoosh unpickles the analyzer stored in the index; an old one has no flag.
    old = NewsFilter("de", compounds=True)
    del old.__dict__["compounds"]
    restored = pickle.loads(pickle.dumps(old))
    assert restored.compounds is False
