"""Index terms within a few edits of a word, from an in-memory copy of the term lists.

Spelling correction asks, per unknown word and field, for every term within one
or two edits. Whoosh answers by walking its term dictionary with a Levenshtein
automaton in Python, about 100 ms per word and field at 100k articles. Here each
field's terms are held in buckets by first letter and length, as code point
matrices, and the edit distance to every term of the right length is computed at
once with numpy, row by row of the usual dynamic programme.

Whoosh measures two ways, and this follows both so that the same terms come back:
a single-segment reader runs its automaton (Levenshtein distance), a
multi-segment reader compares each term with ``damerau_levenshtein`` (adjacent
transpositions count one edit), including that function's early exit.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np
from whoosh.reading import IndexReader

Buckets = dict[tuple[str, int], tuple[list[str], np.ndarray]]  # (first letter, length)


class Lexicon:
    """The terms of some fields of one index state, for ``near``."""

    def __init__(self, reader: IndexReader, fields: tuple[str, ...]) -> None:
        self.damerau = not reader.is_atomic()
        self._fields: dict[str, Buckets] = {}
        for field in fields:
            grouped: dict[tuple[str, int], list[str]] = defaultdict(list)
            schema_field = reader.schema[field]
            for raw in reader.lexicon(field):
                term = schema_field.from_bytes(raw)
                if term:
                    grouped[(term[0], len(term))].append(term)
            self._fields[field] = {
                key: (terms, np.array([[ord(c) for c in t] for t in terms], dtype=np.uint32))
                for key, terms in grouped.items()
            }

    def near(self, field: str, text: str, max_edits: int) -> list[str]:
        """Terms of ``field`` that share ``text``'s first letter and are within
        ``max_edits`` of it, as Whoosh's ``terms_within(.., prefix=1)`` finds them."""
        if not text:
            return []
        buckets = self._fields[field]
        lengths = range(max(1, len(text) - max_edits), len(text) + max_edits + 1)
        found = [buckets[key] for n in lengths if (key := (text[0], n)) in buckets]
        if not found:
            return []
        terms = [t for bucket_terms, _ in found for t in bucket_terms]
        width = len(text) + max_edits
        codes = np.zeros((len(terms), width), dtype=np.uint32)
        sizes = np.empty(len(terms), dtype=np.int64)
        row = 0
        for bucket_terms, matrix in found:
            codes[row : row + len(bucket_terms), : matrix.shape[1]] = matrix
            sizes[row : row + len(bucket_terms)] = matrix.shape[1]
            row += len(bucket_terms)
        distances = _distances(codes, sizes, text, self.damerau, max_edits)
        return [t for t, d in zip(terms, distances.tolist(), strict=True) if d <= max_edits]


def _distances(
    codes: np.ndarray, sizes: np.ndarray, text: str, damerau: bool, limit: int
) -> np.ndarray:
    """Edit distance from each row of ``codes`` (its first ``sizes`` code points) to ``text``.

    Rows of the programme run over the terms' letters, columns over ``text``, as in
    ``whoosh.support.levenshtein``; a term whose row minimum passes ``limit`` after
    ``limit + 1`` letters gets ``limit + 1`` there (the early exit), which for plain
    Levenshtein changes nothing that is within ``limit``.
    """
    target = np.array([ord(c) for c in text], dtype=np.uint32)
    columns = len(target)
    count = len(sizes)
    # previous[y] is the distance from the term's first x letters to text[: y + 1];
    # the column before the first letter of ``text`` is x itself.
    previous = np.repeat(np.arange(1, columns + 1, dtype=np.int64)[:, None], count, axis=1)
    two_ago = previous
    exited = np.zeros(count, dtype=bool)
    for x in range(codes.shape[1]):
        letter = codes[:, x]
        current = np.empty_like(previous)
        for y in range(columns):
            left = current[y - 1] if y else x + 1
            diagonal = previous[y - 1] if y else x
            value = np.minimum(
                np.minimum(previous[y] + 1, left + 1), diagonal + (letter != target[y])
            )
            if damerau and x > 0 and y > 0:
                swapped = (
                    (letter == target[y - 1])
                    & (codes[:, x - 1] == target[y])
                    & (letter != target[y])
                )
                before = two_ago[y - 2] if y > 1 else x - 1
                value = np.where(swapped, np.minimum(value, before + 1), value)
            current[y] = value
        active = sizes > x
        if damerau and x > limit:
            row_min = np.minimum(current.min(axis=0), x + 1)
            exited |= active & (row_min > limit)
        two_ago = np.where(active, previous, two_ago)
        previous = np.where(active, current, previous)
    return np.where(exited, limit + 1, previous[columns - 1])


class LexiconCache:
    """The lexicon of the current index state, built on first use and shared by threads."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self._fields = fields
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._lexicon: Lexicon | None = None

    def get(self, reader: IndexReader) -> Lexicon:
        generation = reader.generation()
        with self._lock:
            if self._lexicon is None or self._generation != generation:
                self._lexicon = Lexicon(reader, self._fields)
                self._generation = generation
            return self._lexicon
