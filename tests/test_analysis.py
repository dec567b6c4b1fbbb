"""German news analysis: the cases a reader's query depends on."""

from __future__ import annotations

import pytest

from search.lexical.analysis import analyze


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Brüssel", "Bruessel"),
        ("Brüssel", "brussel"),
        ("Verhandlungen", "Verhandlung"),
        ("Straße", "Strasse"),
        ("Krieges", "Krieg"),
        ("Café", "Cafe"),
    ],
)
def test_variants_meet_in_one_term(a: str, b: str) -> None:
    assert analyze(a) == analyze(b)


@pytest.mark.parametrize(
    ("acronym", "term"), [("US", "us"), ("EU", "eu"), ("UN", "un"), ("ÖVP", "ovp"), ("FPÖ", "fpo")]
)
def test_acronyms_are_kept_whole(acronym: str, term: str) -> None:
    assert analyze(acronym) == [term]


def test_lowercase_us_is_an_english_stop_word_but_the_acronym_is_not() -> None:
    assert analyze("told us") == ["told"]
    assert analyze("US-Präsident") == ["us", "prasident"]


def test_hyphenated_words_index_parts_and_the_joined_compound() -> None:
    assert analyze("Ukraine-Krieges", mode="index") == ["ukrain", "krieg", "ukrainekrieg"]
    assert analyze("Ukrainekrieg") == ["ukrainekrieg"]
    assert analyze("Ukraine-Krieg") == ["ukrain", "krieg"]


def test_stop_words_are_dropped() -> None:
    assert analyze("der Präsident und die Regierung") == ["prasident", "regier"]


@pytest.mark.parametrize("word", ["Feuchtgebiet", "Fußballverein", "Hitzesommer", "Lawinenwarnung"])
def test_closed_compounds_stay_one_term_by_default(word: str) -> None:
    # Compound splitting is off until it pays in hybrid mode (docs/quality.md);
    # tests/test_compounds.py covers it switched on.
    assert len(analyze(word, mode="index")) == 1
