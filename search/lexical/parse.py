"""Parsing the query language: lenient by default, strict on request.

People type and paste text, not syntax: a stray quote, a bracket left open, a
dangling ``AND`` or ``Place: topic`` (German headline style) must still search the
words. So the default reading repairs what does not parse, as Elasticsearch's
``simple_query_string`` does, and says how it read the query; well-formed syntax
(phrases, fields, ``NOT``, wildcards, ranges) is honoured as written. Strict parsing,
for integrators who want a 400, names the first problem instead.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache

from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.qparser import AndGroup, MultifieldParser, Plugin, syntax

from search.errors import QueryError
from search.lexical.analysis import ANALYSED_LANGUAGES, DEFAULT_LANGUAGE

# The longest text read as a query; a longer paste is shortened to it, with a notice.
MAX_QUERY_CHARS = 20_000
# Up to this many words a query reads as keywords, longer ones as prose
# (``search.retrieval.plan.is_keyword_text``; docs/quality.md).
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
# Words parsed one at a time (``QueryParser._parse_words``): single spaces between
# them, no single quote (Whoosh's quoting, which may span words).
_SEPARATE_WORDS = re.compile(r"[^\s']+(?: [^\s']+)*")
# Plain words whose queries are remembered.
WORD_CACHE = 50_000


@dataclass(frozen=True)
class Reading:
    """How a query text was read: the text parsed and what was repaired to get it."""

    text: str
    notices: tuple[str, ...] = ()


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

    def sought_terms(self) -> Iterator[tuple[str, str]]:
        """``(field, term)`` of every term the query looks for: not those it excludes
        (``NOT ...``), which must neither be marked nor steer the semantic side."""
        return iter(self._sought)

    @cached_property
    def _sought(self) -> tuple[tuple[str, str], ...]:
        # Walked once: the plan, grounding and highlighting each ask.
        return tuple(_sought(self.loose))


def _sought(q: wq.Query) -> Iterator[tuple[str, str]]:
    if isinstance(q, wq.Not):
        return
    if isinstance(q, wq.AndNot):
        yield from _sought(q.a)
    elif q.is_leaf():
        yield from ((f, t) for f, t in q.iter_all_terms() if isinstance(t, str))
    else:
        for child in q.children():
            yield from _sought(child)


def is_plain(text: str) -> bool:
    """Whether ``text`` is words only: no operators, phrases, fields or wildcards."""
    return bool(_PLAIN_WORDS.match(text)) and not any(_OPERATOR.match(w) for w in text.split())


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


_TOKEN = re.compile(r'"[^"]*"|[()]|[^\s()"]+')
_BINARY = frozenset({"AND", "OR", "ANDNOT", "ANDMAYBE"})
# A colon, with the name before it when that name starts a word (``title:``).
_COLON = re.compile(r"((?<!\w)[A-Za-z_]\w*)?:(?=(\S?))")
_BRACKETS = re.compile(r"[\[\]{}]")
_LONE_BOOST = re.compile(r"\^(?![\d.])")


def shorten(text: str, limit: int = MAX_QUERY_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut.rsplit(None, 1)[0] if " " in cut.strip() else cut


def read_query(raw: str) -> Reading:
    """Read any text as a query: keep well-formed syntax, read the rest as words.

    Each repair adds a notice saying what was read differently, in the order
    applied: an over-long text is shortened, a colon after a word that names no
    field is a space (``Gaza:Waffenruhe``), an unpaired quote or bracket is dropped,
    and an operator with nothing to join is ignored.
    """
    notices: list[str] = []
    text = " ".join(raw.split())
    if len(text) > MAX_QUERY_CHARS:
        text = shorten(text)
        notices.append(f"The text was shortened to its first {len(text):,} characters.")
    spaced = False

    def field_or_space(match: re.Match[str]) -> str:
        nonlocal spaced
        name, after = match.group(1), match.group(2)
        if name in QUERYABLE_FIELDS and after and not after.isspace():
            return match.group(0)
        spaced = True
        return f"{name or ''} "

    text = " ".join(_COLON.sub(field_or_space, text).split())
    if spaced:
        notices.append("A colon that names no field was read as a space.")
    if text.count('"') % 2:
        at = text.rindex('"')
        text = text[:at] + " " + text[at + 1 :]
        notices.append('An unpaired quote (") was ignored.')
    text, dropped = _pair_parentheses(text)
    if dropped:
        notices.append("A parenthesis without its partner was ignored.")
    if _BRACKETS.search(text) and not _brackets_pair(text):
        text = _BRACKETS.sub(" ", text)
        notices.append("Brackets that do not form a range were read as spaces.")
    text = _LONE_BOOST.sub(" ", text)
    text, ignored = _drop_dangling_operators(text)
    notices.extend(f"{op} had nothing to join and was ignored." for op in ignored)
    return Reading(" ".join(text.split()), tuple(notices))


def _pair_parentheses(text: str) -> tuple[str, bool]:
    """``text`` without parentheses (outside phrases) that have no partner."""
    chars = list(text)
    open_at: list[int] = []
    unpaired: list[int] = []
    quoted = False
    for i, ch in enumerate(chars):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            open_at.append(i)
        elif ch == ")":
            if open_at:
                open_at.pop()
            else:
                unpaired.append(i)
    unpaired += open_at
    for i in unpaired:
        chars[i] = " "
    text = "".join(chars)
    # An empty group says nothing and Whoosh cannot parse it.
    emptied = re.sub(r"\(\s*\)", " ", text)
    return emptied, bool(unpaired) or emptied != text


def _brackets_pair(text: str) -> bool:
    depth = 0
    for ch in _BRACKETS.findall(text):
        depth += 1 if ch in "[{" else -1
        if depth < 0 or depth > 1:
            return False
    return depth == 0


def _drop_dangling_operators(text: str) -> tuple[str, list[str]]:
    """``text`` without operators that have no operand on a side they need one."""
    tokens = _TOKEN.findall(text)
    ignored: list[str] = []
    changed = True
    while changed:  # dropping one operator can leave its neighbour dangling
        changed = False
        for i, token in enumerate(tokens):
            if token not in _BINARY and token != "NOT":
                continue
            before = tokens[i - 1] if i else None
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            left_ok = before is not None and before != "(" and before not in _BINARY
            left_ok = left_ok and before != "NOT"
            right_ok = after is not None and after != ")" and after not in _BINARY
            if (token == "NOT" and right_ok) or (left_ok and right_ok):
                continue
            ignored.append(token)
            del tokens[i]
            changed = True
            break
    return " ".join(tokens), ignored


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
        self._strict.add_plugin(_LanguageFieldsPlugin())
        # Each plain word's query, remembered: most words recur in later queries.
        self._word = lru_cache(maxsize=WORD_CACHE)(self._strict.parse)

    def read(self, raw: str, strict: bool = False) -> tuple[ParsedQuery | None, Reading]:
        """Parse what a person typed: strictly (a QueryError names the first problem)
        or leniently (never an error; the reading says what was repaired).

        The parsed query is None where no word is left for the lexical side (only
        stop words or punctuation); the semantic side still reads the text.
        """
        if strict:
            parsed = self.parse(raw)
            return parsed, Reading(parsed.text)
        return self.parse_reading(read_query(raw))

    def parse_reading(self, reading: Reading) -> tuple[ParsedQuery | None, Reading]:
        """Parse a lenient reading; what still does not parse is read as plain words."""
        if not reading.text:
            return None, reading
        try:
            return self.parse(reading.text), reading
        except QueryError:
            pass
        plain = plain_words(reading.text)
        notice = "The query's syntax did not parse, so it was read as plain words."
        try:
            return self.parse(plain), Reading(plain, (*reading.notices, notice))
        except QueryError:
            return None, reading

    def parse(self, text: str) -> ParsedQuery:
        """Parse well-formed query syntax; anything else is a QueryError saying why."""
        stripped = check_query_text(text)
        # A question mark closing a word ends a question; it is not a wildcard.
        whoosh_text = _QUESTION_MARK.sub("", stripped)
        plain = is_plain(whoosh_text)
        try:
            # Written syntax joins bare words with AND, as a searcher reading
            # "Hegseth NOT Pentagon" means; OR must be said.
            strict = (
                self._parse_words(whoosh_text)
                if plain and _SEPARATE_WORDS.fullmatch(whoosh_text)
                else self._strict.parse(whoosh_text)
            )
        except Exception as exc:  # Whoosh raises bare Exceptions, e.g. for bad dates
            raise QueryError(f"cannot parse query: {exc}") from exc
        # Plain words: the strict query joins one group per word with AND; the loose
        # one is the same groups joined with OR (a single word is one group).
        loose = wq.Or(list(strict.subqueries)) if plain and isinstance(strict, wq.And) else strict
        if isinstance(loose, type(wq.NullQuery)):
            raise QueryError("query holds only stop words or punctuation")
        if any(isinstance(leaf, type(wq.NullQuery)) for leaf in strict.leaves()):
            # Whoosh reads a value it cannot parse (``date:xyz``) as matching nothing.
            raise QueryError("cannot parse query: a field's value is not valid there")
        if strict == loose:
            strict = loose
        return ParsedQuery(text=stripped, strict=strict, loose=loose)

    def _parse_words(self, text: str) -> wq.Query:
        """What Whoosh's parser makes of plain words, one word's query at a time.

        In words separated by single spaces, with no quote or syntax character, no
        tagger of the parser matches but the spaces, so each word's group of fields
        is built on its own; joined with AND and normalized, as the parser does with
        the whole text, they are its query (``tests/test_query.py`` compares them).
        """
        return wq.And([self._word(word) for word in text.split(" ")]).normalize()
