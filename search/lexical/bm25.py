"""Whoosh's BM25F ranking, computed with numpy over whole posting lists.

Whoosh scores one document at a time in Python: a prose query over 100k articles
visits tens of thousands of matches and takes seconds, and its block-quality
skipping never fires for ORs of common words (no block skipped over the 120 dev
queries at 100k articles). Here the matcher tree of a query is still Whoosh's (for
terms, ANDs and ORs built here the way Whoosh builds it, with Whoosh's own tree
functions), so the order in which it adds scores is Whoosh's own, but every node
is then evaluated for all its documents at once: each term's posting list is read
into arrays, scored with the term's own BM25F scorer parameters, and combined node
by node, in the order of Whoosh's binary tree of unions: scores equal Whoosh's to
the last bit or two (``tests/test_lexical_fast.py`` checks them against Whoosh).
A node holds only its matches (document numbers ascending, with scores), so it
costs what it matches, not the archive's size: most of a query's nodes match a few
hundred documents of 100k. A tree holding a matcher not handled here (phrases,
wildcards, NOT, coordination) gives None, and the caller ranks with Whoosh.

One tree serves the whole index: it is built from the archive's document
frequencies, as Whoosh builds it for an index of one segment, and each leaf reads
its term's postings from every segment (every shard) in turn. Whoosh builds and
walks a tree per segment, which for a yearly-sharded archive is a dozen trees of
Python work per query where one does.

Posting blocks are read through private attributes of Whoosh's whoosh3 codec; the
test above fails if an upgrade changes them.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from pickle import loads
from typing import NamedTuple
from zlib import decompress

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.matching import (
    ArrayUnionMatcher,
    IntersectionMatcher,
    LeafMatcher,
    ListMatcher,
    Matcher,
    NullMatcher,
    NullMatcherClass,
    UnionMatcher,
    WrappingMatcher,
)
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import And, Every, Or, Query, Term
from whoosh.reading import IndexReader, MultiReader
from whoosh.scoring import BM25FScorer, WeightingModel, WeightScorer
from whoosh.searching import SearchContext, Searcher
from whoosh.util import make_weighted_tree
from whoosh.util.numeric import byte_to_length

Scored = tuple[np.ndarray, np.ndarray]  # (matched: bool per document, score per document)
Matches = tuple[np.ndarray, np.ndarray]  # (document numbers ascending, their scores)

_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
# Decoded posting lists kept for reuse: common words recur in most queries, and
# decoding their blocks is most of a cold query's time. 8 bytes a posting (32-bit
# document numbers, and weights as Whoosh stores them, in 32-bit floats): 32 MB.
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


class Segment(NamedTuple):
    """One segment of an index: its id (what caches key on), reader and size, and
    its first document number in the index."""

    name: str
    reader: IndexReader
    size: int
    offset: int


def segments_of(reader: IndexReader) -> list[Segment]:
    """The segments of an index's reader (of every shard), in document order."""
    return [
        Segment(leaf.segment().segment_id(), leaf, leaf.doc_count_all(), offset)
        for leaf, offset in reader.leaf_readers()
    ]


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
        # Per (segment, field, term): its scorer and its document frequency (0 where
        # the segment lacks it). Plain dicts (a lost race computes the same value
        # twice), cleared when they grow.
        self.scorers = _Bounded(CACHED_TERMS)
        self._frequencies = _Bounded(CACHED_TERMS)

    def frequency(self, segment: Segment, field: str, text: bytes | str) -> int:
        """How many documents of one segment hold a term; 0: none.

        Remembered per segment, so the archive-wide counts that spelling, grounding
        and matcher trees ask for read each term's entry once: a term dictionary
        lookup costs file reads, in every segment of every shard.
        """
        raw = text if isinstance(text, bytes) else segment.reader.schema[field].to_bytes(text)
        key = (segment.name, field, raw)
        found = self._frequencies.get(key)
        if found is None:
            found = self._frequencies[key] = segment.reader.doc_frequency(field, raw)
        return found

    def archive_frequency(
        self,
        segments: Sequence[Segment],
        field: str,
        text: bytes | str,
        failed: set[int] | None = None,
    ) -> int:
        """How many documents of the whole index (its ``segments``) hold a term,
        deleted ones included, as Whoosh counts. With ``failed`` given, a segment that
        cannot be read counts 0 and its first document number goes there."""
        total = 0
        for segment in segments:
            try:
                total += self.frequency(segment, field, text)
            except Exception:
                if failed is None:
                    raise
                failed.add(segment.offset)
        return total

    def postings(self, segment: Segment, field: str, text: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers (within the segment) and term weights of a term in one
        segment, in 32 bits each: the weights as exact as Whoosh stores them."""
        key = (segment.name, field, text)
        with self._lock:
            found = self._lists.get(key)
            if found is not None:
                self._lists.move_to_end(key)
                return found
        raw = segment.reader.postings(field, text)
        ids, weights = _decode(raw.child if isinstance(raw, FilterMatcher) else raw)
        found = ids.astype(np.int32), weights.astype(np.float32)
        with self._lock:
            if key not in self._lists:
                self._lists[key] = found
                self._size += len(found[0])
                while self._size > self._max and len(self._lists) > 1:
                    _key, (ids, _weights) = self._lists.popitem(last=False)
                    self._size -= len(ids)
        return found

    def lengths(self, segment: Segment, field: str) -> np.ndarray:
        """Each document's length of ``field`` in one segment, as BM25F reads it
        (Whoosh's one-byte codes)."""
        key = (segment.name, field)
        with self._lock:
            found = self._lengths.get(key)
        if found is None:
            size = segment.size
            column = segment.reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
            if column is None:  # Whoosh reads a missing length column as 1
                found = np.ones(size)
            else:
                codes = np.fromiter(column, dtype=np.uint8, count=size)
                found = _LENGTH_OF_BYTE[codes]
            with self._lock:
                self._lengths[key] = found
        return found


class ArchiveReader(MultiReader):
    """Every shard's segments read as one index, its document frequencies summed from
    ``cache``'s per segment: Whoosh's scorers ask for a term's archive-wide frequency
    (its idf), which a plain ``MultiReader`` looks up in every segment each time."""

    def __init__(self, readers: Sequence[IndexReader], cache: PostingCache) -> None:
        super().__init__(list(readers))
        self._cache = cache
        self._segments = segments_of(self)

    def doc_frequency(self, fieldname: str, text: bytes | str) -> int:
        return self._cache.archive_frequency(self._segments, fieldname, text)


class _Bounded(dict):  # type: ignore[type-arg]
    """A dict that forgets everything once it holds ``limit`` entries."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def __setitem__(self, key: object, value: object) -> None:
        if len(self) >= self._limit:
            self.clear()
        super().__setitem__(key, value)


class _Archive:
    """The whole index as ``Query.matcher`` sees one segment, handing out ``_Leaf``
    postings: statistics are the archive's, and leaves are read from each segment
    in ``leaves`` (those with a document allowed)."""

    def __init__(
        self, searcher: Searcher, cache: PostingCache, allowed: np.ndarray | None, tolerant: bool
    ) -> None:
        self.searcher = searcher
        self.cache = cache
        self.size = searcher.doc_count_all()
        self.segments = segments_of(searcher.reader())
        # What the archive's statistics, hence its scorers, depend on: its segments.
        self.name = tuple(segment.name for segment in self.segments)
        self.leaves = [
            s
            for s in self.segments
            if allowed is None or allowed[s.offset : s.offset + s.size].any()
        ]
        # First document numbers of segments that could not be read, when ``tolerant``.
        self.tolerant = tolerant
        self.failed: set[int] = set()
        self._vocabulary = _Vocabulary(self)

    def __getattr__(self, name: str) -> object:
        return getattr(self.searcher, name)

    def reader(self) -> _Vocabulary:
        return self._vocabulary

    def postings(
        self, fieldname: str, text: bytes, weighting: WeightingModel | None = None, qf: int = 1
    ) -> Matcher:
        # What Searcher.postings builds, minus the reading.
        model = weighting or self.searcher.weighting
        key = (self.name, fieldname, text, qf, id(model))
        scorer = self.cache.scorers.get(key)
        if scorer is None:
            # A term's statistics never change while the segments stay the same.
            scorer = self.cache.scorers[key] = model.scorer(self.searcher, fieldname, text, qf=qf)
        return _Leaf(fieldname, text, scorer)


class _Vocabulary:
    """The archive's reader, with ``(field, term) in reader`` and ``doc_frequency``
    from the cache's per-segment frequencies, and remembered for the query: building
    a term's matcher asks the first, ordering a compound's children asks the second
    (once per nesting level); a term occurs exactly where its frequency is above 0."""

    def __init__(self, archive: _Archive) -> None:
        self._archive = archive
        self._reader = archive.searcher.reader()
        self._known: dict[tuple[str, bytes | str], int] = {}

    def __getattr__(self, name: str) -> object:
        return getattr(self._reader, name)

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        return self.doc_frequency(*term) > 0

    def doc_frequency(self, field: str, text: bytes | str) -> int:
        found = self._known.get((field, text))
        if found is None:
            archive = self._archive
            failed = archive.failed if archive.tolerant else None
            found = archive.cache.archive_frequency(archive.segments, field, text, failed)
            self._known[field, text] = found
        return found


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
    archive = _Archive(searcher, cache, allowed, tolerant=failed is not None)
    # ``needs_current`` keeps Whoosh from preloading an Or's matches into arrays (its
    # choice below 5,000 documents), work thrown away here: only the leaves are read.
    context = searcher.context(needs_current=True)
    try:
        ids, scores = _evaluate(_matcher(q, archive, context), archive)
    except _Unsupported:
        return None
    # Documents of segments read whole, less deleted ones (which Whoosh leaves out at
    # every leaf).
    kept = np.zeros(archive.size, dtype=bool)
    for segment in archive.leaves:
        offset = segment.offset
        if offset not in archive.failed:
            kept[offset : offset + segment.size] = True
        deleted = segment.reader.deleted_docs_set
        if deleted:
            kept[np.fromiter(deleted, dtype=np.int64, count=len(deleted)) + offset] = False
    if failed is not None:
        failed.extend(sorted(archive.failed))
    keep = kept[ids]
    ids = ids[keep]
    matched = np.zeros(archive.size, dtype=bool)
    matched[ids] = True
    dense = np.zeros(archive.size)
    dense[ids] = scores[keep]
    return matched, dense


def _matcher(q: Query, archive: _Archive, context: SearchContext) -> Matcher:
    """``q.matcher(archive, context)``, with terms, ANDs and ORs built here as Whoosh
    builds them: the same weighted trees of the same matchers, so scores are added in
    the same order. Whoosh estimates a compound's size anew at every level above it
    (each term's document frequency looked up once per level); here once per node.
    Other queries are Whoosh's own."""
    return _built(q, archive, context, sized=False)[0]


def _built(q: Query, archive: _Archive, context: SearchContext, sized: bool) -> tuple[Matcher, int]:
    """``q``'s matcher and, where ``sized``, its ``estimate_size`` on the archive."""
    kind = type(q)
    if kind is Term:
        return _term(q, archive, context)
    subs = q.subqueries if kind is And or kind is Or else None
    # An Or is Whoosh's binary tree of unions unless it has a coordination bonus, a
    # matcher type of its own or so many clauses that Whoosh preloads them.
    if subs and (
        kind is And
        or (q.matcher_type == Or.AUTO_MATCHER and not q.scale and len(subs) < Or.TOO_MANY_CLAUSES)
    ):
        built = [_built(sub, archive, context, sized=len(subs) > 1 or sized) for sub in subs]
        sizes = [size for _m, size in built]
        if kind is And:
            size = min(sizes) if sized else 0
        else:  # CompoundQuery.estimate_size
            size = min(sum(sizes), archive.reader().doc_count()) if sized else 0
        if len(subs) == 1:
            return built[0][0], size
        if kind is And:
            m = make_weighted_tree(IntersectionMatcher, [(0 - n, m) for m, n in built])
        else:
            m = make_weighted_tree(UnionMatcher, [(n, m) for m, n in built])
        return (WrappingMatcher(m, q.boost) if q.boost != 1.0 else m), size
    return q.matcher(archive, context), q.estimate_size(archive.reader()) if sized else 0


def _term(q: Term, archive: _Archive, context: SearchContext) -> tuple[Matcher, int]:
    """``Term.matcher`` and ``Term.estimate_size``, the document frequency read once."""
    fieldname = q.fieldname
    schema = archive.schema
    if fieldname not in schema:
        return NullMatcher(), 0
    try:
        text = schema[fieldname].to_bytes(q.text)
    except ValueError:
        return NullMatcher(), 0
    reader = archive.reader()
    if (fieldname, text) not in reader:
        return NullMatcher(), reader.doc_frequency(fieldname, text)
    m = archive.postings(fieldname, text, weighting=context.weighting)
    if q.minquality:
        m.set_min_quality(q.minquality)
    if q.boost != 1.0:
        m = WrappingMatcher(m, boost=q.boost)
    return m, reader.doc_frequency(fieldname, text)


def _evaluate(m: Matcher, archive: _Archive) -> Matches:
    kind = type(m)
    if kind is _Leaf:
        return _leaf(m, archive)
    if kind is UnionMatcher:
        # A side that does not match adds nothing, and x + 0.0 == x exactly.
        return _sum([_evaluate(m.a, archive), _evaluate(m.b, archive)], 1.0, archive.size)
    if kind is IntersectionMatcher:
        ids_a, scores_a = _evaluate(m.a, archive)
        ids_b, scores_b = _evaluate(m.b, archive)
        both, at_a, at_b = np.intersect1d(ids_a, ids_b, assume_unique=True, return_indices=True)
        return both, scores_a[at_a] + scores_b[at_b]
    if kind is WrappingMatcher:
        ids, scores = _evaluate(m.child, archive)
        return ids, scores * m.boost
    if kind is ArrayUnionMatcher:
        # Small indexes: Whoosh adds each child's score times the boost into one
        # array, child after child.
        children = [_evaluate(child, archive) for child in m._submatchers]
        return _sum(children, m._boost, archive.size)
    if kind is _AllMatcher:
        ids = np.unique(np.asarray(m._ids, dtype=np.int64))
        return ids, np.full(len(ids), m.weight())
    if kind is NullMatcherClass:
        return _NO_MATCHES
    raise _Unsupported(kind.__name__)


_NO_MATCHES: Matches = (np.zeros(0, dtype=np.int64), np.zeros(0))


def _sum(parts: list[Matches], boost: float, size: int) -> Matches:
    """The union of ``parts``, each document's scores times ``boost`` added part after
    part from 0.0 (Whoosh's order). Parts matching much of the archive are added in
    arrays of its size: sorting them together would cost more."""
    if sum(len(ids) for ids, _scores in parts) * 8 > size:
        matched = np.zeros(size, dtype=bool)
        total = np.zeros(size)
        for ids, scores in parts:
            matched[ids] = True
            total[ids] += scores * boost
        union = np.flatnonzero(matched)
        return union, total[union]
    union = np.unique(np.concatenate([ids for ids, _scores in parts]))
    total = np.zeros(len(union))
    for ids, scores in parts:
        total[np.searchsorted(union, ids)] += scores * boost
    return union, total


def _leaf(m: _Leaf, archive: _Archive) -> Matches:
    scorer = m.scorer
    bm25 = type(scorer) is BM25FScorer
    if not bm25 and type(scorer) is not WeightScorer:
        raise _Unsupported(type(scorer).__name__)
    cache = archive.cache
    found_ids: list[np.ndarray] = []
    found_scores: list[np.ndarray] = []
    for segment in archive.leaves:  # in document order
        try:
            if not cache.frequency(segment, m.field, m.text):
                continue
            ids, stored = cache.postings(segment, m.field, m.text)
            weights = stored.astype(np.float64)  # Whoosh scores in Python floats
            if bm25:
                fl = cache.lengths(segment, m.field)[ids]
                idf, avgfl, b, k1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
                # whoosh.scoring.bm25, operation for operation.
                found = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * fl / avgfl)))
            else:
                found = weights
        except Exception:
            if not archive.tolerant:
                raise
            archive.failed.add(segment.offset)
            continue
        found_ids.append(ids + segment.offset)
        found_scores.append(found)
    if not found_ids:
        return _NO_MATCHES
    return np.concatenate(found_ids), np.concatenate(found_scores)


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
