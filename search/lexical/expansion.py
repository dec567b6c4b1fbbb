"""Term expansion within a budget: wildcards, prefixes, fuzzy terms and ranges.

Whoosh turns ``*a*`` into every term of the vocabulary that holds an ``a``, once per
searched field, while it builds the query's matchers; a lone ``*`` even becomes a
walk over every posting list. Before a query is scored, each such node is replaced
here by the terms it stands for, at most ``Budget.max_expansions`` per node and
``Budget.max_terms`` in the whole query (Elasticsearch's ``max_expansions`` and
``max_clause_count``), taken in the vocabulary's order; the walk over the
vocabulary stops when the budget's deadline passes (the search then says
``timed_out``). ``*`` over a field means every
article and becomes Whoosh's all-documents query, which reads no vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator

from whoosh import query as wq
from whoosh.query.terms import MultiTerm
from whoosh.reading import IndexReader

from search.budget import Budget
from search.lexical.bm25 import AllDocuments

# How many vocabulary entries the walk reads between two looks at the deadline; each
# pattern reads at least this many, so a budget spent before the walk (a cold start)
# still finds the first terms.
CHECK_EVERY = 512


def bounded(q: wq.Query, reader: IndexReader, budget: Budget) -> wq.Query:
    """``q`` with every expanding node replaced by its capped list of terms."""
    patterns = sum(1 for node in _nodes(q) if _expands(node))
    if not patterns:
        return q
    cap = max(1, min(budget.max_expansions, budget.max_terms // patterns))
    return _rewrite(q, _Watched(reader, budget), budget, cap)


def _nodes(q: wq.Query) -> Iterator[wq.Query]:
    yield q
    for child in q.children():
        yield from _nodes(child)


def _expands(q: wq.Query) -> bool:
    return isinstance(q, wq.Every | MultiTerm)


def _rewrite(q: wq.Query, reader: _Watched, budget: Budget, cap: int) -> wq.Query:
    if isinstance(q, wq.Every):
        return AllDocuments(q.boost)
    if isinstance(q, MultiTerm):
        return _expand(q, reader, budget, cap)
    return q.apply(lambda child: _rewrite(child, reader, budget, cap))


def _expand(q: MultiTerm, reader: _Watched, budget: Budget, cap: int) -> wq.Query:
    """``q`` limited to the first ``cap`` terms it stands for."""
    field = q.field()
    if field not in reader.schema:
        return wq.NullQuery
    btexts: list[bytes] = []
    for btext in q._btexts(reader):
        if len(btexts) == cap:
            pattern = str(q).split(":", 1)[-1]  # one notice for all fields: no field name
            budget.notice(
                f"{pattern} stands for more than {cap} terms; the first {cap} in "
                "alphabetical order were searched"
            )
            break
        btexts.append(btext)
    budget.expanded += len(btexts)
    return Expanded(field, btexts, q.boost, q.constantscore) if btexts else wq.NullQuery


class Expanded(MultiTerm):
    """A pattern's terms, fixed: Whoosh matches and scores them as it would the pattern."""

    def __init__(
        self, fieldname: str, btexts: list[bytes], boost: float, constantscore: bool
    ) -> None:
        self.fieldname = fieldname
        self.btexts = btexts
        self.boost = boost
        self.constantscore = constantscore

    def _btexts(self, ixreader: IndexReader) -> list[bytes]:
        return self.btexts

    def _key(self) -> tuple[str, tuple[bytes, ...], float, bool]:
        return (self.fieldname, tuple(self.btexts), self.boost, self.constantscore)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expanded) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Expanded({self.fieldname!r}, {len(self.btexts)} terms, boost={self.boost})"


class _Watched:
    """A reader whose vocabulary walks end when the budget's deadline has passed."""

    def __init__(self, reader: IndexReader, budget: Budget) -> None:
        self._reader = reader
        self._budget = budget

    def __getattr__(self, name: str) -> object:
        return getattr(self._reader, name)

    def lexicon(self, fieldname: str) -> Iterator[bytes]:
        return self._watch(self._reader.lexicon(fieldname))

    def expand_prefix(self, fieldname: str, prefix: bytes | str) -> Iterator[bytes]:
        return self._watch(self._reader.expand_prefix(fieldname, prefix))

    def terms_from(self, fieldname: str, prefix: bytes | str) -> Iterator[tuple[str, bytes]]:
        return self._watch(self._reader.terms_from(fieldname, prefix))

    def _watch(self, items: Iterator[object]) -> Iterator:  # type: ignore[type-arg]
        for n, item in enumerate(items):
            if n and n % CHECK_EVERY == 0 and self._budget.expired():
                self._budget.notice("the search ran out of time while it expanded patterns")
                return
            yield item
