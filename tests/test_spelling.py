"""Spelling correction from the index vocabulary."""

from __future__ import annotations

import pytest

from search.engine import Engine
from search.retrieval.spelling import correct_query, edit_distance, is_vocabulary_word
from search.semantic.embedders import Embedder, UniversalSentenceEncoder, packaged_tokenizer

from .conftest import SEED_ID


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("hegseth", "hegseth", 0),
        ("hegset", "hegseth", 1),
        ("verhandlug", "verhandl", 2),
        ("", "abc", 3),
        ("brussel", "brusel", 1),
        ("donaustdat", "donaustadt", 1),  # two letters swapped: one slip
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_a_misspelt_name_is_corrected_to_the_archive_spelling(engine: Engine) -> None:
    lexical = engine._current().lexical
    correction = correct_query("Hegset Brüssel", lexical)
    assert correction is not None
    assert correction.text == "Hegseth Brüssel"
    assert correction.replacements == {"Hegset": "Hegseth"}


def test_known_words_and_prose_are_left_alone(engine: Engine) -> None:
    lexical = engine._current().lexical
    assert correct_query("Hegseth Brüssel", lexical) is None
    # Prose is often in another language than the archive: the plan corrects keywords only.
    assert engine.plan("Hegset traf in Brüssel die Minister der Nato").corrected is None


@pytest.mark.parametrize("mode", ["lexical", "hybrid", "semantic"])
def test_search_shows_and_uses_the_corrected_query(engine: Engine, mode: str) -> None:
    results = engine.search("Hegset Brüssel", mode=mode)  # type: ignore[arg-type]
    assert results.corrected_query == "Hegseth Brüssel"
    assert results.query == "Hegset Brüssel"
    assert SEED_ID in [h.id for h in results.hits[:2]]
    assert engine.search("Hegseth Brüssel", mode=mode).corrected_query is None  # type: ignore[arg-type]


def test_a_correction_must_fit_the_rest_of_the_query(engine: Engine) -> None:
    """A word the archive lacks is kept when no article uses its near match together
    with the query's other words: it is a foreign word, not a typo."""
    lexical = engine._current().lexical
    # "Hegset" is one edit from "Hegseth", and an article names Hegseth with Pentagon.
    assert correct_query("Hegset Pentagon", lexical) is not None
    # One edit from "Hegseth" too, but no article names Hegseth next to a heat wave.
    assert correct_query("Hegset Hitzewelle", lexical) is None


@pytest.mark.parametrize(
    ("word", "whole"),
    [
        ("hospital", True),
        ("Kenya", True),
        ("chicken", True),  # the bare word-start mark, then the word
        ("canada", True),  # held capitalised
        ("Hegset", False),
        ("Cnaada", False),
        ("Wettervorhersgae", False),
    ],
)
def test_words_the_multilingual_vocabulary_holds_whole_are_real_words(
    word: str, whole: bool
) -> None:
    """Such words are never corrected: they are words of some language, not typos."""
    assert is_vocabulary_word(word) is whole


def test_spelling_reads_the_vocabulary_of_the_loaded_model(embedder: Embedder) -> None:
    """One tokenizer per process (its piece table is 34 MB), shared with the model."""
    assert isinstance(embedder, UniversalSentenceEncoder)
    embedder.encode(["ein Satz"])
    assert is_vocabulary_word("Regierung")
    assert embedder._model._tokenizer is packaged_tokenizer()
