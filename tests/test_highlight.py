"""Snippets: the window with the matched words, whole words, marked as indexed."""

from __future__ import annotations

import re

import pytest

from search.engine import Engine
from search.lexical.analysis import TOKEN_PATTERN
from search.lexical.highlight import (
    SNIPPET_CHARS,
    TermsOfWord,
    matched_spans,
    may_mention,
    snippet,
)

LONG = (
    "Der Gemeinderat tagte am Montag lange. "
    + "Über die Straßenbahn wurde nicht gesprochen. " * 12
    + "Erst am Abend kam der Vulkanausbruch auf Island zur Sprache, und die "
    "Vulkanasche über dem Flughafen beschäftigte die Runde bis Mitternacht. "
    + "Danach ging es um den Haushalt. "
    * 10
)


def _plain(marked: str) -> str:
    return re.sub(r"</?mark>", "", marked)


@pytest.fixture(scope="module")
def terms_of(engine: Engine) -> TermsOfWord:
    return engine._current().lexical.indexed_terms


def _terms(engine: Engine, text: str) -> frozenset[str]:
    lexical = engine._current().lexical
    return lexical.query_terms(lexical.parser.parse(text))


def test_the_window_holds_the_matched_words_and_is_cut_at_whole_words(
    engine: Engine, terms_of: TermsOfWord
) -> None:
    terms = _terms(engine, "Vulkanausbruch Flughafen")
    shown = snippet(LONG, terms, "de", terms_of)
    assert "<mark>Vulkanausbruch</mark>" in shown and "<mark>Flughafen</mark>" in shown
    text = _plain(shown)
    assert text.startswith("… ") and text.endswith(" …")
    assert len(text) <= SNIPPET_CHARS + 4
    inner = text[2:-2]
    assert inner in " ".join(LONG.split())  # whole words, nothing repeated or invented


def test_a_short_text_is_shown_whole_and_unmarked_without_matches(
    engine: Engine, terms_of: TermsOfWord
) -> None:
    assert snippet("Kurz & <b>knapp</b>.", frozenset(), "de", terms_of) == (
        "Kurz &amp; &lt;b&gt;knapp&lt;/b&gt;."
    )


def test_words_are_marked_by_their_indexed_terms(engine: Engine, terms_of: TermsOfWord) -> None:
    text = "Die EU-Kommission und der Ukraine-Krieg: Cafés in Brüssel, Straße und ÖVP."
    terms = _terms(engine, "Krieg Brüssel Strasse")
    marked = [text[s.start : s.end] for s in matched_spans(text, terms, "de", terms_of)]
    assert marked == ["Ukraine-Krieg", "Brüssel", "Straße"]
    assert matched_spans("Nichts davon.", terms, "de", terms_of) == []


def test_hit_snippets_do_not_repeat_the_title(engine: Engine) -> None:
    for hit in engine.search("Derby OR Börse OR Hitzewelle", mode="lexical").hits:
        assert not _plain(hit.snippet).startswith(hit.title), hit.id


def test_words_found_from_the_whole_text_are_those_found_word_by_word(
    engine: Engine, terms_of: TermsOfWord
) -> None:
    """``matched_spans`` finds candidate words from the pattern's matches in the whole
    text; trying the pattern on every word must find the same ones."""
    text = (
        "Ukraine-Krieg, EU-Kommission--Brüssel; Strasse/Straße_Bau 2025-Wahl ÖVP-nahe "
        "Vulkan\u2010Asche Kriegs-Ende. Brüsseler Krieg_2 a-b-c -Krieg Krieg- ß-Straße"
    )
    for query in ("Krieg Brüssel Strasse", "EU Wahl Vulkanasche", "ÖVP Ende Bau", "c 2"):
        terms = _terms(engine, query)
        pattern = may_mention(terms)
        assert pattern is not None
        by_word = [
            (m.start(), m.end())
            for m in re.finditer(TOKEN_PATTERN, text)
            if pattern.search(m.group()) and any(t in terms for t in terms_of(m.group(), "de"))
        ]
        found = [(s.start, s.end) for s in matched_spans(text, terms, "de", terms_of)]
        assert found == by_word and found, query
