"""The query language and the checks that turn malformed queries into clear errors."""

from __future__ import annotations

import pytest

from search.errors import QueryError
from search.lexical.parse import QueryParser
from search.lexical.schema import build_schema

PARSER = QueryParser(build_schema())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('"Hegseth Brüssel', "quote"),
        ("(Hegseth", "parenthesis"),
        ("Hegseth)", "parenthesis"),
        ("Hegseth AND", "operator"),
        ("OR Hegseth", "operator"),
        ("Hegseth AND OR Brüssel", "two operators"),
        ("autor:Hegseth", "unknown field 'autor'"),
        ("date:[abc TO]", "cannot parse"),
        ("x" * 20_001, "limit"),
        ("der die das", "stop words"),
    ],
)
def test_malformed_queries_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        PARSER.parse(text)


def test_plain_keywords_get_a_strict_and_a_loose_form() -> None:
    parsed = PARSER.parse("Hegseth Brüssel")
    assert parsed.is_keyword_query
    assert "AND" in str(parsed.strict) and "OR" in str(parsed.loose)


@pytest.mark.parametrize(
    "text", ['"Pete Hegseth"', "Hegseth OR Brüssel", "title:Hegseth", "Heg*", "Hegseth NOT Brüssel"]
)
def test_queries_with_syntax_are_taken_as_written(text: str) -> None:
    assert not PARSER.parse(text).is_keyword_query


def test_a_closing_question_mark_is_punctuation_not_a_wildcard() -> None:
    assert "Wildcard" not in repr(PARSER.parse("Was plant die EU?").loose)


@pytest.mark.parametrize(
    "text",
    [
        "Hegseth",
        "Hegseth Brüssel",
        "Die Regierung plant nach der Wahl neue Regeln für Schule und Bahn",
        "EU-Kommission Ukraine-Krieg Straße Strasse",
        "Wien Wien Graz wien",
        "US-Zölle 2025 ÖVP UN us",
        "Café naïve résumé Ärzte-Kammer",
        "a-b-c x_y 3.5% 10.000 Euro",
        "Kommission, Regierung; Wahl! Gipfel. -Streik Streik-",
        "the elections and the elected",
        "der die Hitzewelle das",
    ],
)
def test_plain_words_parse_as_whoosh_parses_the_whole_text(text: str) -> None:
    """Plain words are parsed one at a time (and remembered); the query must be the one
    Whoosh's parser makes of the whole text."""
    whole = PARSER._strict.parse(text)  # the parser the per-word path stands in for
    assert PARSER.parse(text).strict == whole
    assert repr(PARSER.parse(text).strict) == repr(whole)
