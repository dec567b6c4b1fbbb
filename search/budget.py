"""What one search may spend: a deadline and a number of expanded terms.

A wildcard, prefix, fuzzy or range query stands for every term it matches, and a
vocabulary grows with the archive, so without bounds one query could run for
minutes. The budget is made once per search and handed to the expensive loops,
which check it and stop; the search then returns what it found with
``timed_out`` (Elasticsearch's convention) and a notice per capped expansion.

A caller hands a budget down explicitly, or makes it the current one for a block
(``with budget.spent_by_this_search():``), where ``current()`` finds it; code that
runs with neither gets the caps without a deadline.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

# Seconds a search may run before it returns what it has.
SEARCH_SECONDS = 1.5
# Terms one wildcard, prefix, fuzzy or range expands to in one field (Elasticsearch's
# ``max_expansions``) and in the whole query (``indices.query.bool.max_clause_count``).
MAX_EXPANSIONS = 128
MAX_EXPANDED_TERMS = 1024


@dataclass
class Budget:
    """A deadline and an allowance of expanded terms, spent by one search."""

    seconds: float = SEARCH_SECONDS
    max_expansions: int = MAX_EXPANSIONS
    max_terms: int = MAX_EXPANDED_TERMS
    started: float = field(default_factory=time.monotonic)
    timed_out: bool = False
    expanded: int = 0
    notices: list[str] = field(default_factory=list)

    def expired(self) -> bool:
        """Whether the deadline has passed; once it has, ``timed_out`` stays set."""
        if not self.timed_out and time.monotonic() - self.started > self.seconds:
            self.timed_out = True
        return self.timed_out

    def remaining(self) -> float:
        return max(0.0, self.seconds - (time.monotonic() - self.started))

    def notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    @contextlib.contextmanager
    def spent_by_this_search(self) -> Iterator[Budget]:
        """Make this the budget ``current()`` returns inside the block (this thread only)."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


_CURRENT: ContextVar[Budget | None] = ContextVar("search_budget", default=None)


def current() -> Budget:
    """The budget of the search running in this thread; outside one, a fresh budget
    with the term caps but no deadline (evaluation and other callers that cannot say
    ``timed_out`` never get a result cut short)."""
    return _CURRENT.get() or Budget(seconds=math.inf)
