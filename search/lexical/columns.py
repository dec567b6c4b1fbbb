"""Per-document columns of a Whoosh index: id, date order and facet values.

Facets, date sorting and filtered semantic search each need a value for thousands
of documents per request. Reading stored fields for that would load every
article's text, so the values are read once per index state, from Whoosh columns
(the fields are ``sortable``) or, for an index built before they were, from the
fields' postings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search.ingest.languages import primary_language

FACET_FIELDS = ("month", "source", "language", "category")
_UNDATED = -1
_NUMERIC_MISSING = 1 << 63  # an unset numeric column value reads as 2**64 - 1


class Columns:
    """Values per document number, valid for searchers of the index state they came from."""

    def __init__(self, searcher: Searcher) -> None:
        reader = searcher.reader()
        self.size = reader.doc_count_all()
        self.ids: list[str] = _text_column(reader, "id", self.size)
        self.docnum_of: dict[str, int] = {self.ids[d]: d for d in reader.all_doc_ids()}
        # Which document numbers hold a stored (not deleted) article.
        self.live = np.zeros(self.size, dtype=bool)
        self.live[list(self.docnum_of.values())] = True
        self.date_key = _date_column(reader, self.size)
        # The agency story of each document (its own id where none was kept).
        stories = _text_column(reader, "story", self.size) if "story" in reader.schema else []
        self.story: list[str] = [s or i for s, i in zip(stories, self.ids, strict=True)] or list(
            self.ids
        )
        self._groups: dict[str, list[int]] | None = None
        self._story_of: dict[str, str] | None = None
        self._story_codes: np.ndarray | None = None
        self.labels: dict[str, list[str]] = {}
        self.codes: dict[str, np.ndarray] = {}
        for name in FACET_FIELDS:
            self.labels[name], self.codes[name] = _folded(
                name, _text_column(reader, name, self.size)
            )

    def docnums(self, article_ids: Iterable[str]) -> np.ndarray:
        """Document numbers of the ids this searcher holds (others are skipped)."""
        found = [self.docnum_of[a] for a in article_ids if a in self.docnum_of]
        return np.array(found, dtype=np.int64)

    def story_groups(self) -> dict[str, list[int]]:
        """The live documents of each story that has more than one (agency copies)."""
        if self._groups is None:
            groups: dict[str, list[int]] = {}
            for docnum in self.docnum_of.values():
                groups.setdefault(self.story[docnum], []).append(docnum)
            self._groups = {story: sorted(d) for story, d in groups.items() if len(d) > 1}
        return self._groups

    def story_of(self) -> dict[str, str]:
        """The story of every article that shares one with another (lone ones are left out)."""
        if self._story_of is None:
            self._story_of = {
                self.ids[d]: story for story, docs in self.story_groups().items() for d in docs
            }
        return self._story_of

    def one_per_story(self, docnums: np.ndarray) -> np.ndarray:
        """``docnums`` with only the first document of each story, in their order."""
        if not self.story_groups() or not len(docnums):
            return docnums
        if self._story_codes is None:
            _labels, codes = np.unique(np.array(self.story, dtype=object), return_inverse=True)
            self._story_codes = codes.reshape(-1)
        _values, first = np.unique(self._story_codes[docnums], return_index=True)
        return docnums[np.sort(first)]

    def ids_of(self, docnums: Iterable[int]) -> frozenset[str]:
        return frozenset(self.ids[d] for d in docnums)

    def by_date(self, article_ids: Sequence[str], newest_first: bool) -> list[int]:
        """Positions of ``article_ids`` ordered by date; undated last, ties keep their order."""
        keys = np.array(
            [
                self.date_key[d] if (d := self.docnum_of.get(a)) is not None else _UNDATED
                for a in article_ids
            ],
            dtype=np.int64,
        )
        dated = keys != _UNDATED
        # A stable sort on (undated, date) so equal dates keep the relevance order.
        primary = -keys if newest_first else keys
        order = np.lexsort((primary, ~dated))
        return [int(i) for i in order]


def facet_key(name: str, value: str) -> str:
    """The form a value of facet ``name`` is counted and filtered under.

    Spellings that mean one thing fold together: case and spacing for sources and
    categories (``Inland``, ``inland``), the language alone for language tags
    (``de-AT`` -> ``de``). ``""`` (no value) stays ``""``.
    """
    if name == "language":
        return primary_language(value)
    if name == "month":
        return value
    return " ".join(value.split()).casefold()


def _folded(name: str, values: list[str]) -> tuple[list[str], np.ndarray]:
    """Labels (one per folded value) and each document's label index.

    A label shows a folded group by its most common spelling (the first in sort
    order on a tie); a language by its folded tag.
    """
    spellings, inverse, counts = np.unique(
        np.array(values, dtype=object), return_inverse=True, return_counts=True
    )
    keys = [facet_key(name, str(s)) for s in spellings]
    group_of: dict[str, int] = {}
    best: list[tuple[int, str]] = []  # per group: (count, spelling) of its display form
    remap = np.empty(len(spellings), dtype=np.int32)
    for i, key in enumerate(keys):
        group = group_of.setdefault(key, len(group_of))
        shown = key if name == "language" else str(spellings[i])
        if group == len(best):
            best.append((int(counts[i]), shown))
        elif int(counts[i]) > best[group][0]:
            best[group] = (int(counts[i]), shown)
        remap[i] = group
    return [label for _count, label in best], remap[inverse.reshape(-1)]


class ColumnCache:
    """The columns of one index, read once per index state and shared by every thread.

    Each thread searches with its own searcher (Whoosh's are not thread-safe), but
    searchers of the same index generation number documents alike, so one copy
    of the columns serves them all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._columns: Columns | None = None

    def get(self, searcher: Searcher) -> Columns:
        generation = searcher.reader().generation()
        with self._lock:
            if self._columns is None or self._generation != generation:
                self._columns = Columns(searcher)
                self._generation = generation
            return self._columns


def _text_column(reader: IndexReader, name: str, size: int) -> list[str]:
    values = [""] * size
    # Segment by segment: a segment whose documents all lack a field has no column
    # for it, and an index built before the fields were sortable has none at all.
    for segment, offset in reader.leaf_readers():
        if segment.has_column(name):
            for docnum, value in enumerate(segment.column_reader(name, translate=True)):
                values[offset + docnum] = str(value or "")
            continue
        for text in segment.field_terms(name):
            for docnum in segment.postings(name, text).all_ids():
                values[offset + docnum] = text
    return values


def _date_column(reader: IndexReader, size: int) -> np.ndarray:
    """An order-preserving integer per document, ``_UNDATED`` where there is no date."""
    keys = np.full(size, _UNDATED, dtype=np.int64)
    field = reader.schema["date"]
    for segment, offset in reader.leaf_readers():
        if segment.has_column("date"):
            count = segment.doc_count_all()
            raw = np.fromiter(
                (int(v) for v in segment.column_reader("date", translate=False)),
                dtype=np.uint64,
                count=count,
            )
            dated = (raw > 0) & (raw < _NUMERIC_MISSING)
            keys[offset : offset + count][dated] = raw[dated].astype(np.int64)
            continue
        # Without a column, the stored microseconds come back from the sortable terms.
        for term in field.sortable_terms(segment, "date"):
            value = field.to_column_value(field.from_bytes(term))
            for docnum in segment.postings("date", term).all_ids():
                keys[offset + docnum] = value
    return keys
