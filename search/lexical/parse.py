"""Parsing the Whoosh query language, with strict checks the lenient parser lacks.

Whoosh silently turns a stray quote or a dangling ``AND`` into something else; a
search box that quietly changes the question is worse than one that says what is
wrong, so such queries are a ``QueryError`` naming the problem.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass

from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.qparser import AndGroup, MultifieldParser, OrGroup, Plugin, syntax

from search.errors import QueryError
from search.lexical.analysis import ANALYSED_LANGUAGES, DEFAULT_LANGUAGE

MAX_QUERY_CHARS = 1000
# Up to this many words a query reads as keywords; longer ones as prose. Fusion and
# the semantic side weigh the two kinds differently (docs/quality.md).
KEYWORD_MAX_WORDS = 4
# The text of an article, as stored and as a searcher names it in ``title:...``.
TEXT_FIELDS = ("title", "lead", "body")
_TEXT_BOOSTS = {"title": 1.5, "lead": 1.0, "body": 1.0}


def language_field(field: str, language: str) -> str:
    """The field that holds ``field`` analysed in ``language`` (``body``, ``body_en``)."""
    return field if language == DEFAULT_LANGUAGE else f"{field}_{language}"


# Each text field is indexed once per analysed language, and an article fills only
# its own language's fields: BM25 statistics stay per language, and a query word,
# analysed once per field, meets German and English articles each in their own stems.
FIELDS_OF_LANGUAGE = {
    language: tuple(language_field(f, language) for f in TEXT_FIELDS)
    for language in ANALYSED_LANGUAGES
}
SEARCH_FIELDS = tuple(f for fields in FIELDS_OF_LANGUAGE.values() for f in fields)
FIELD_BOOSTS = {
    language_field(f, language): boost
    for f, boost in _TEXT_BOOSTS.items()
    for language in ANALYSED_LANGUAGES
}
QUERYABLE_FIELDS = frozenset({*TEXT_FIELDS, "id", "date", "source", "language", "category"})

_FIELD_PREFIX = re.compile(r"(?:^|[\s(])([A-Za-z_]\w*):(?=\S)")
_OPERATOR = re.compile(r"^(AND|OR|NOT|ANDNOT|ANDMAYBE)$")
_QUESTION_MARK = re.compile(r"(?<=\w)\?+(?=\s|$)")
_PLAIN_WORDS = re.compile(r"^[^\"():*?~^\[\]{}]*$")


@dataclass(frozen=True)
class ParsedQuery:
    """A query ready to run: ``strict`` wants every word, ``loose`` any word.

    For a plain keyword query the two differ and results rank articles holding every
    word first; for a query written with operators, phrases or fields they are the
    same object and the user's logic is taken as written.
    """

    text: str
    strict: wq.Query
    loose: wq.Query

    @property
    def is_keyword_query(self) -> bool:
        return self.strict is not self.loose


def is_keyword_text(text: str) -> bool:
    """Whether a query is a few keywords (as typed into a search box) rather than prose."""
    return len(text.split()) <= KEYWORD_MAX_WORDS


def check_query_text(text: str) -> str:
    """Return the stripped query or raise QueryError saying what is malformed."""
    if not isinstance(text, str):
        raise QueryError(f"query must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise QueryError("query is empty")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(f"query has {len(stripped)} characters; the limit is {MAX_QUERY_CHARS}")
    if stripped.count('"') % 2:
        raise QueryError('query has an unclosed quote (")')
    depth = 0
    for ch in stripped:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise QueryError("query closes a parenthesis that was never opened")
    if depth:
        raise QueryError("query leaves a parenthesis open")
    words = stripped.replace("(", " ").replace(")", " ").split()
    if (_OPERATOR.match(words[0]) and words[0] != "NOT") or _OPERATOR.match(words[-1]):
        raise QueryError("query starts or ends with an operator (AND, OR, NOT)")
    for left, right in itertools.pairwise(words):
        if _OPERATOR.match(left) and _OPERATOR.match(right) and right != "NOT":
            raise QueryError(f"query has two operators in a row: {left} {right}")
    for name in _FIELD_PREFIX.findall(stripped):
        if name not in QUERYABLE_FIELDS:
            allowed = ", ".join(sorted(QUERYABLE_FIELDS))
            raise QueryError(f"unknown field {name!r} in query; fields are: {allowed}")
    return stripped


_SYNTAX_CHARS = re.compile(r"[\"()\[\]{}^~*?:]")


def plain_words(text: str) -> str:
    """``text`` with all query syntax neutralised, so any prose can be searched as words.

    Operator words are lowercased (``and`` is then an ordinary, stop-listed word) and
    syntax characters become spaces.
    """
    words = _SYNTAX_CHARS.sub(" ", text).split()
    return " ".join(w.lower() if _OPERATOR.match(w) else w for w in words)


class _LanguageFieldsPlugin(Plugin):
    """Makes ``title:word`` search ``title`` in every language's analysis.

    It runs after Whoosh has read explicit field names (priority 100) and before it
    spreads unfielded words over every searched field (110).
    """

    def filters(self, parser: MultifieldParser) -> list[tuple[object, int]]:
        return [(self._spread, 105)]

    def _spread(self, parser: MultifieldParser, group: syntax.GroupNode) -> syntax.GroupNode:
        for i, node in enumerate(group):
            if isinstance(node, syntax.GroupNode):
                group[i] = self._spread(parser, node)
            elif node.has_fieldname and node.fieldname in TEXT_FIELDS:
                copies = []
                for language in ANALYSED_LANGUAGES:
                    fielded = copy.copy(node)
                    fielded.set_fieldname(language_field(node.fieldname, language), override=True)
                    copies.append(fielded)
                group[i] = syntax.OrGroup(copies)
        return group


class QueryParser:
    """Parses query text against the lexical schema (one per index, reused)."""

    def __init__(self, schema: Schema) -> None:
        self._strict = MultifieldParser(
            list(SEARCH_FIELDS), schema, fieldboosts=FIELD_BOOSTS, group=AndGroup
        )
        self._loose = MultifieldParser(
            list(SEARCH_FIELDS), schema, fieldboosts=FIELD_BOOSTS, group=OrGroup
        )
        for parser in (self._strict, self._loose):
            parser.add_plugin(_LanguageFieldsPlugin())

    def parse(self, text: str) -> ParsedQuery:
        stripped = check_query_text(text)
        # A question mark closing a word ends a question; it is not a wildcard.
        whoosh_text = _QUESTION_MARK.sub("", stripped)
        plain = _PLAIN_WORDS.match(whoosh_text) and not any(
            _OPERATOR.match(w) for w in whoosh_text.split()
        )
        try:
            # Written syntax joins bare words with AND, as a searcher reading
            # "Hegseth NOT Pentagon" means; OR must be said.
            strict = self._strict.parse(whoosh_text)
            loose = self._loose.parse(whoosh_text) if plain else strict
        except Exception as exc:  # Whoosh raises bare Exceptions, e.g. for bad dates
            raise QueryError(f"cannot parse query: {exc}") from exc
        if isinstance(loose, type(wq.NullQuery)):
            raise QueryError("query holds only stop words or punctuation")
        if strict == loose:
            strict = loose
        return ParsedQuery(text=stripped, strict=strict, loose=loose)
