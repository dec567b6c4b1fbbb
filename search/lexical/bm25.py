"""Whoosh's BM25F ranking, computed with numpy over whole posting lists.

Whoosh scores one document at a time in Python: a prose query over 100k articles
visits tens of thousands of matches and takes seconds, and its block-quality
skipping never fires for ORs of common words (no block skipped over the 120 dev
queries at 100k articles). Here Whoosh still builds the matcher tree of a query,
so its structure (the order in which it adds scores) is Whoosh's own, but every
node is then evaluated for all documents at once: each term's posting list is read
into arrays, scored with the term's own BM25F scorer parameters, and combined node
by node, in the order of Whoosh's binary tree of unions: scores equal Whoosh's to
the last bit or two (``tests/test_lexical_fast.py`` checks them against Whoosh). A
tree holding a matcher not handled here (phrases, wildcards, NOT, coordination)
gives None, and the caller ranks with Whoosh.

Posting blocks are read through private attributes of Whoosh's whoosh3 codec; the
test above fails if an upgrade changes them.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from pickle import loads
from zlib import decompress

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.matching import (
    ArrayUnionMatcher,
    IntersectionMatcher,
    LeafMatcher,
    ListMatcher,
    Matcher,
    NullMatcherClass,
    UnionMatcher,
    WrappingMatcher,
)
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import Every, Query
from whoosh.scoring import BM25FScorer, WeightingModel, WeightScorer
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

Scored = tuple[np.ndarray, np.ndarray]  # (matched: bool per document, score per document)

_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
# Decoded posting lists kept for reuse: common words recur in most queries, and
# decoding their blocks is most of a cold query's time. 16 bytes a posting: 64 MB.
CACHED_POSTINGS = 4_000_000
CACHED_TERMS = 200_000


class _Unsupported(Exception):
    """A matcher in the tree that this module does not evaluate."""


class _Leaf(LeafMatcher):
    """A term's place in the matcher tree, with its scorer; its postings are read later.

    Whoosh builds the tree exactly as for a search, but with these in place of its
    posting readers: an intersection aligns its children as it is built, walking
    their posting lists in Python, and an inactive leaf stops that walk at once.
    """

    def __init__(self, field: str, text: bytes, scorer: object) -> None:
        self.field = field
        self.text = text
        self.scorer = scorer

    def is_active(self) -> bool:
        return False


class PostingCache:
    """Decoded posting lists and field lengths per segment, bounded, least recently used out.

    A segment's postings and lengths never change (deletions are applied when
    scoring), so entries stay valid for the life of the index.
    """

    def __init__(self, max_postings: int = CACHED_POSTINGS) -> None:
        self._max = max_postings
        self._size = 0
        self._lists: OrderedDict[tuple[str, str, bytes], tuple[np.ndarray, np.ndarray]]
        self._lists = OrderedDict()
        self._lengths: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()
        # Per (segment, field, term): whether the term occurs, and its scorer. Plain
        # dicts (a lost race computes the same value twice), cleared when they grow.
        self.terms = _Bounded(CACHED_TERMS)
        self.scorers = _Bounded(CACHED_TERMS)

    def postings(self, segment: _Segment, field: str, text: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers and term weights of a term in one segment."""
        key = (segment.name, field, text)
        with self._lock:
            found = self._lists.get(key)
            if found is not None:
                self._lists.move_to_end(key)
                return found
        raw = segment.segment_reader.postings(field, text)
        found = _decode(raw.child if isinstance(raw, FilterMatcher) else raw)
        with self._lock:
            if key not in self._lists:
                self._lists[key] = found
                self._size += len(found[0])
                while self._size > self._max and len(self._lists) > 1:
                    _key, (ids, _weights) = self._lists.popitem(last=False)
                    self._size -= len(ids)
        return found

    def lengths(self, segment: _Segment, field: str) -> np.ndarray:
        """Each document's length of ``field`` as BM25F reads it (Whoosh's one-byte codes)."""
        key = (segment.name, field)
        with self._lock:
            found = self._lengths.get(key)
        if found is None:
            column = segment.segment_reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
            if column is None:  # Whoosh reads a missing length column as 1
                found = np.ones(segment.size)
            else:
                codes = np.fromiter(column, dtype=np.uint8, count=segment.size)
                found = _LENGTH_OF_BYTE[codes]
            with self._lock:
                self._lengths[key] = found
        return found


class _Bounded(dict):  # type: ignore[type-arg]
    """A dict that forgets everything once it holds ``limit`` entries."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def __setitem__(self, key: object, value: object) -> None:
        if len(self) >= self._limit:
            self.clear()
        super().__setitem__(key, value)


class _Segment:
    """One segment's searcher as ``Query.matcher`` sees it, handing out ``_Leaf`` postings."""

    def __init__(self, searcher: Searcher, cache: PostingCache) -> None:
        self.searcher = searcher
        self.cache = cache
        self.segment_reader = searcher.reader()
        self.name = self.segment_reader.segment().segment_id()
        self.size = self.segment_reader.doc_count_all()
        self._vocabulary = _Vocabulary(self)

    def __getattr__(self, name: str) -> object:
        return getattr(self.searcher, name)

    def reader(self) -> _Vocabulary:
        return self._vocabulary

    def postings(
        self, fieldname: str, text: bytes, weighting: WeightingModel | None = None, qf: int = 1
    ) -> Matcher:
        # What Searcher.postings and SegmentReader.postings build, minus the reading.
        model = weighting or self.searcher.weighting
        key = (self.name, fieldname, text, qf, id(model))
        scorer = self.cache.scorers.get(key)
        if scorer is None:
            # A term's statistics never change in a published generation.
            scorer = self.cache.scorers[key] = model.scorer(self.searcher, fieldname, text, qf=qf)
        leaf = _Leaf(fieldname, text, scorer)
        deleted = self.segment_reader.deleted_docs_set
        return FilterMatcher(leaf, deleted, exclude=True) if deleted else leaf


class _Vocabulary:
    """A segment reader whose ``(field, term) in reader`` is remembered: building a
    term's matcher asks it first, and a term dictionary lookup costs file reads."""

    def __init__(self, segment: _Segment) -> None:
        self._segment = segment
        self._reader = segment.segment_reader

    def __getattr__(self, name: str) -> object:
        return getattr(self._reader, name)

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        key = (self._segment.name, *term)
        known = self._segment.cache.terms.get(key)
        if known is None:
            known = self._segment.cache.terms[key] = term in self._reader
        return known


class _AllMatcher(ListMatcher):
    """The matcher of ``AllDocuments``, told apart from other list matchers by its type."""


class AllDocuments(Every):
    """Every live document, each scoring the boost (Whoosh's ``Every`` over a field
    reads every posting list of the field to find the same documents)."""

    def __init__(self, boost: float = 1.0) -> None:
        super().__init__(None, boost=boost)

    def matcher(self, searcher: Searcher, context: object = None) -> Matcher:
        return _AllMatcher(array("I", searcher.reader().all_doc_ids()), all_weights=self.boost)


def score_query(
    searcher: Searcher,
    q: Query,
    cache: PostingCache,
    allowed: np.ndarray | None = None,
    failed: list[int] | None = None,
) -> Scored | None:
    """Whether each document matches ``q`` and its BM25F score, exactly as Whoosh scores it.

    None when the query's matcher tree holds something not evaluated here. A segment
    with no document ``allowed`` (a mask by document number) is not read at all: a
    date filter skips the shards of other periods. With ``failed`` given, a segment
    that cannot be read is left out and its first document number listed there, so
    the other shards still answer; without it the error propagates.
    """
    size = searcher.doc_count_all()
    matched = np.zeros(size, dtype=bool)
    scores = np.zeros(size)
    # ``needs_current`` keeps Whoosh from preloading an Or's matches into arrays (its
    # choice below 5,000 documents), work thrown away here: only the leaves are read.
    context = searcher.context(needs_current=True)
    for sub, offset in searcher.leaf_searchers():
        segment = _Segment(sub, cache)
        if allowed is not None and not allowed[offset : offset + segment.size].any():
            continue
        try:
            m, s = _evaluate(q.matcher(segment, context), segment)
        except _Unsupported:
            return None
        except Exception:
            if failed is None:
                raise
            failed.append(offset)
            continue
        matched[offset : offset + segment.size] = m
        scores[offset : offset + segment.size] = s
    return matched, scores


def _evaluate(m: Matcher, segment: _Segment) -> Scored:
    kind = type(m)
    if kind is _Leaf:
        return _leaf(m, segment)
    if kind is UnionMatcher or kind is IntersectionMatcher:
        ma, sa = _evaluate(m.a, segment)
        mb, sb = _evaluate(m.b, segment)
        if kind is UnionMatcher:
            # A side that does not match holds 0.0, and x + 0.0 == x exactly.
            return ma | mb, sa + sb
        both = ma & mb
        return both, np.where(both, sa + sb, 0.0)
    if kind is WrappingMatcher:
        mc, sc = _evaluate(m.child, segment)
        return mc, sc * m.boost
    if kind is FilterMatcher:
        mc, sc = _evaluate(m.child, segment)
        listed = np.zeros(segment.size, dtype=bool)
        listed[np.fromiter(m._ids, dtype=np.int64, count=len(m._ids))] = True
        mc = mc & (~listed if m._exclude else listed)
        return mc, np.where(mc, sc * m.boost, 0.0)
    if kind is ArrayUnionMatcher:
        # Small indexes: Whoosh adds each child's score times the boost into one
        # array, child after child.
        matched = np.zeros(segment.size, dtype=bool)
        total = np.zeros(segment.size)
        for child in m._submatchers:
            mc, sc = _evaluate(child, segment)
            matched |= mc
            total = total + np.where(mc, sc * m._boost, 0.0)
        return matched, total
    if kind is _AllMatcher:
        matched = np.zeros(segment.size, dtype=bool)
        matched[np.asarray(m._ids, dtype=np.int64)] = True
        return matched, np.where(matched, m.weight(), 0.0)
    if kind is NullMatcherClass:
        return np.zeros(segment.size, dtype=bool), np.zeros(segment.size)
    raise _Unsupported(kind.__name__)


def _leaf(m: _Leaf, segment: _Segment) -> Scored:
    ids, weights = segment.cache.postings(segment, m.field, m.text)
    matched = np.zeros(segment.size, dtype=bool)
    scores = np.zeros(segment.size)
    matched[ids] = True
    scorer = m.scorer
    if type(scorer) is BM25FScorer:
        fl = segment.cache.lengths(segment, m.field)[ids]
        idf, avgfl, b, k1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
        # whoosh.scoring.bm25, operation for operation.
        scores[ids] = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * fl / avgfl)))
    elif type(scorer) is WeightScorer:
        scores[ids] = weights
    else:
        raise _Unsupported(type(scorer).__name__)
    return matched, scores


def _decode(leaf: LeafMatcher) -> tuple[np.ndarray, np.ndarray]:
    """All (document number, weight) pairs of a whoosh3 posting list, block by block."""
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    postfile = leaf._postfile
    while not leaf._atend:
        raw = postfile.get(leaf._dataoffset, leaf._nextoffset - leaf._dataoffset)
        data = loads(decompress(raw) if leaf._compression else raw)
        block_ids = np.array(data[0], dtype=np.int64)
        ids.append(block_ids if leaf._byteids else np.cumsum(block_ids))
        w = data[1]
        if w is None or isinstance(w, float):
            weights.append(np.full(leaf._blocklength, 1.0 if w is None else w))
        else:
            weights.append(np.asarray(w, dtype=np.float64))
        leaf._next_block()
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ids), np.concatenate(weights)
