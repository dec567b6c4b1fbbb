"""The query plan: everything a request's text means, worked out once.

Every stage of a search (lexical ranking, grounding, the semantic side, fusion,
facets, snippets, paging) reads the plan and none re-parses the text, so the modes
cannot disagree about what was asked: the same repaired reading, the same
constraints binding both sides, the same shape (keywords or prose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from whoosh import query as wq

from search.errors import QueryError
from search.lexical.index import LexicalIndex
from search.lexical.parse import (
    FIELDS_OF_LANGUAGE,
    KEYWORD_MAX_WORDS,
    ParsedQuery,
    Reading,
    is_plain,
    read_query,
)
from search.retrieval.filters import Filters
from search.retrieval.results import MODES, Mode
from search.retrieval.spelling import correct_query

# Fields that hold a value, not prose: a clause on them ("date:2025-10",
# "category:Sport") is a constraint every hit must meet, on both sides.
VALUE_FIELDS = frozenset({"id", "date", "month", "source", "language", "category"})
# A pasted article has hundreds of distinct words; the lexical side searches the
# most distinctive of them (Elasticsearch's more_like_this keeps 25 by default).
MAX_LEXICAL_TERMS = 48
_QUERY_SYNTAX = re.compile(r"\b[A-Za-z_]\w*:|[\"()*^~\[\]{}]|\b(?:AND|OR|NOT|TO)\b")
_OPERAND = r'(?:"[^"]*"|\([^()]*\)|\[[^\]]*\]|\{[^}]*\}|\S+)'
# What the query excludes or constrains says nothing about what it is about.
_NOT_CLAUSE = re.compile(rf"\b(?:NOT|ANDNOT)\s+(?:[A-Za-z_]\w*:)?{_OPERAND}")
_VALUE_CLAUSE = re.compile(rf"(?<!\w)(?:{'|'.join(sorted(VALUE_FIELDS))}):{_OPERAND}")


def semantic_text(query: str) -> str:
    """The query as prose for the embedder: what it excludes (``NOT ...``) and its
    value-field constraints are dropped, and the rest of the syntax is spaces."""
    meaning = _VALUE_CLAUSE.sub(" ", _NOT_CLAUSE.sub(" ", query))
    return " ".join(_QUERY_SYNTAX.sub(" ", meaning).split()) or " ".join(query.split())


def is_keyword_text(text: str) -> bool:
    """The query's shape: a few keywords, as typed into a search box, or prose.

    The one definition every stage uses (fusion weights, the semantic blend,
    grounding and spelling correction each treat the two differently).
    """
    return len(semantic_text(text).split()) <= KEYWORD_MAX_WORDS


@dataclass(frozen=True)
class QueryPlan:
    """One request's query, read, constrained and measured.

    ``text`` is the query as read (repairs applied); ``parsed`` the lexical query
    after spelling correction (None where no word is left for the lexical side);
    ``constraints`` the clauses every hit must meet (the query's ``NOT`` and value
    fields, and the filters); ``terms`` the analysed words that snippets mark.
    """

    raw: str
    mode: Mode
    text: str
    notices: tuple[str, ...]
    parsed: ParsedQuery | None
    corrected: str | None
    keywords: bool
    constraints: tuple[wq.Query, ...]
    filters: Filters
    terms: frozenset[str]
    known_share: float

    @property
    def interpreted_as(self) -> str | None:
        """The reading, where it differs from what was typed (whitespace aside)."""
        return self.text if self.notices and self.text != " ".join(self.raw.split()) else None

    @property
    def semantic_text(self) -> str:
        """What the embedder reads: the words as typed, without syntax.

        Not the spelling-corrected words: embedding those lifted the semantic side
        on misspelt English keywords above hybrid (docs/quality.md), so the model
        reads what it always read until fusion accounts for the correction.
        """
        return semantic_text(self.text)

    @property
    def lexical(self) -> bool:
        return self.mode != "semantic"

    @property
    def semantic(self) -> bool:
        return self.mode != "lexical"


def make_plan(
    raw: object,
    mode: str,
    lexical: LexicalIndex,
    filters: Filters | None = None,
    strict: bool = False,
) -> QueryPlan:
    """Read ``raw`` once for every stage; only ``strict`` parsing raises on syntax."""
    if not isinstance(raw, str):
        raise QueryError(f"query must be text, not {type(raw).__name__}")
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    filters = filters or Filters()
    if strict:
        parsed, reading = lexical.parser.read(raw, strict=True)
    else:
        reading = read_query(raw)
        words = list(dict.fromkeys(reading.text.split()))
        if len(words) > MAX_LEXICAL_TERMS and is_plain(reading.text):
            # The embedder reads the whole text; the lexical side its rarest words.
            shortlist = _distinctive(words, reading, lexical)
            parsed = lexical.parser.parse_reading(shortlist)[0]
            reading = Reading(reading.text, shortlist.notices)
        else:
            parsed, reading = lexical.parser.parse_reading(reading)
    keywords = is_keyword_text(reading.text)
    corrected = None
    if parsed is not None and parsed.is_keyword_query and keywords:
        correction = correct_query(parsed.text, lexical)
        if correction is not None:
            corrected = correction.text
            parsed = lexical.parser.parse(corrected)
    constraints = _constraints(parsed.strict) if parsed is not None else []
    where = filters.query()
    if where is not None:
        constraints.append(where)
    notices = reading.notices
    if not reading.text:
        notices = (*notices, "The query holds no words to search for.")
    terms: frozenset[str] = frozenset()
    known = 1.0
    if parsed is not None:
        terms = lexical.query_terms(parsed)
        known = known_share(lexical, lexical.terms_by_language(parsed))
    return QueryPlan(
        raw=raw,
        mode=mode,  # type: ignore[arg-type]  # checked above
        text=reading.text,
        notices=notices,
        parsed=parsed,
        corrected=corrected,
        keywords=keywords,
        constraints=tuple(constraints),
        filters=filters,
        terms=terms,
        known_share=known,
    )


def _constraints(q: wq.Query) -> list[wq.Query]:
    """The top-level clauses of ``q`` that exclude articles or name a value field.

    Words and phrases rank; these decide membership, so the semantic side must
    obey them too: ``Hegseth NOT Pentagon`` never returns an article naming the
    Pentagon, ``date:2025-10 Trump`` nothing from another month.
    """
    parts = q.subqueries if isinstance(q, wq.And) else [q]
    found: list[wq.Query] = []
    for part in parts:
        if isinstance(part, wq.Not):
            found.append(part)
        elif isinstance(part, wq.AndNot):
            found += [*_constraints(part.a), wq.Not(part.b)]
        else:
            fields = {getattr(leaf, "fieldname", None) for leaf in part.leaves()}
            if fields and fields <= VALUE_FIELDS:
                found.append(part)
    return found


def _distinctive(words: list[str], reading: Reading, lexical: LexicalIndex) -> Reading:
    """A plain text with very many words, read as its most distinctive ones.

    Every word of a pasted article in one OR query would rank by the commonest
    words' sheer number and cost a posting list each; the words rarest in the
    archive (and used in it at all) say what the text is about.
    """
    rarity: dict[str, int] = {}
    for word in words:
        frequencies = [
            lexical.doc_frequency(term, FIELDS_OF_LANGUAGE[language])
            for language in FIELDS_OF_LANGUAGE
            for term in lexical.word_terms(word, language)
        ]
        if any(frequencies):
            rarity[word] = min(f for f in frequencies if f)
    kept = set(sorted(rarity, key=lambda w: rarity[w])[:MAX_LEXICAL_TERMS])
    if not kept:
        return reading
    notice = f"The keyword side searched the text's {len(kept)} most distinctive words."
    return Reading(" ".join(w for w in words if w in kept), (*reading.notices, notice))


def known_share(lexical: LexicalIndex, terms: dict[str, frozenset[str]]) -> float:
    """The share of query terms the archive uses at all (1.0 for no terms).

    It says how much of a query the lexical side can see; both the fusion weight
    and the semantic blend for keywords read it. ``terms`` holds the query's terms
    per analysis language, each looked up in that language's fields; the language
    that sees most of the query counts.
    """
    shares = [
        sum(lexical.doc_frequency(term, FIELDS_OF_LANGUAGE[language]) > 0 for term in found)
        / len(found)
        for language, found in terms.items()
        if found
    ]
    return max(shares, default=1.0)
