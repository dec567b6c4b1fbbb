"""Agency copies: the same story in several outlets, grouped at ingest.

A dpa, APA or Reuters story reaches an archive many times, under another headline,
with a sentence changed or a paragraph cut. Each article's body is cut into word
3-shingles and summarised by a MinHash signature (``datasketch``); locality-
sensitive hashing (``Stories``) finds the earlier articles whose estimated
Jaccard similarity is at least ``THRESHOLD``, and the article joins the story of
the most similar one. A story's id is the id of its first article. Headlines are left out on
purpose: copies change them most. Bodies under ``MIN_WORDS`` words are never
grouped: a few shared words say little. The method, threshold and the measured
precision and recall are in docs/quality.md ("Agency copies").

The signatures are stored with each generation, per shard (``stories.npz`` in each
shard's folder, rewritten only when a write touches the shard), so an ``add`` groups
new articles with the whole archive without re-reading it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from search.errors import IndexDamaged
from search.ingest.article import Article

THRESHOLD = 0.5
NUM_PERM = 64
SHINGLE_WORDS = 3
MIN_WORDS = 40
STORIES_FILE = "stories.npz"
_WORD = re.compile(r"\w+")
# One set of permutations for every signature, so stored ones stay comparable.
_SEED = 7
_SCHEME = "affine32"  # 32-bit hash values: half the memory of 64-bit ones
BANDS, ROWS = 21, 3  # 63 of the 64 values
_MULTIPLIERS = np.random.default_rng(_SEED).integers(1, 2**62, size=ROWS, dtype=np.uint64) | 1


def shingles(text: str) -> set[bytes]:
    """The body's word 3-shingles, lower-cased; empty for a body too short to compare."""
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return set()
    return {
        " ".join(words[i : i + SHINGLE_WORDS]).encode()
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def signature(text: str) -> np.ndarray | None:
    """The MinHash signature of a body (uint32), or None when it is too short to group."""
    # Imported here: a server that only answers queries never loads datasketch (and
    # the scipy it brings, about 58 MB).
    from datasketch import MinHash

    found = shingles(text)
    if not found:
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)
    minhash.update_batch(list(found))
    return minhash.hashvalues.astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """One 64-bit key per band of ``ROWS`` signature values (the last axis becomes bands)."""
    bands = signatures[..., : BANDS * ROWS].astype(np.uint64)
    bands = bands.reshape(*signatures.shape[:-1], BANDS, ROWS)
    return (bands * _MULTIPLIERS).sum(axis=-1, dtype=np.uint64)  # wraps: a hash, checked anyway


class Stories:
    """Which story each article belongs to, and the signatures to group new ones by.

    Locality-sensitive hashing in bands: two articles become candidates when all
    ``ROWS`` values of one of ``BANDS`` bands agree (at Jaccard 0.5 that happens for
    94% of pairs, at 0.1 for 2%), and a candidate joins only if its estimated
    similarity reaches the threshold. Articles of this run sit in a dictionary of
    band keys; the stored ones of an earlier generation stay numpy arrays, scanned
    per new article, so an ``add`` to a large archive starts at once.
    """

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self.story_of: dict[str, str] = {}
        self.copies = 0  # articles that joined an earlier article's story
        # Stored articles: ids, signatures, band keys, and which are still there.
        self._stored_ids: list[str] = []
        self._stored_row: dict[str, int] = {}
        self._stored = np.zeros((0, NUM_PERM), np.uint32)
        self._stored_keys = np.zeros((0, BANDS), np.uint64)
        self._alive = np.zeros(0, bool)
        # Articles grouped in this run: their signatures, and the first id per band key.
        self._signatures: dict[str, np.ndarray] = {}
        self._buckets: dict[int, str] = {}

    def assign(self, article_id: str, text: str) -> str:
        """Group one article with the most similar earlier one; return its story id."""
        self.remove(article_id)  # a replaced article is grouped by its new text
        found = signature(text)
        story = article_id
        if found is not None:
            keys = band_keys(found)
            best = self._most_similar(found, keys)
            if best is not None:
                story = self.story_of.get(best, best)
            self._signatures[article_id] = found
            for band, key in enumerate(keys.tolist()):
                self._buckets.setdefault(key ^ (band << 59), article_id)
        if story != article_id:
            self.copies += 1
        self.story_of[article_id] = story
        return story

    def _most_similar(self, found: np.ndarray, keys: np.ndarray) -> str | None:
        scored: list[tuple[float, str]] = []
        for band, key in enumerate(keys.tolist()):
            candidate = self._buckets.get(key ^ (band << 59))
            if candidate is not None and candidate in self._signatures:
                scored.append((similarity(found, self._signatures[candidate]), candidate))
        if len(self._stored_keys):
            rows = np.nonzero((self._stored_keys == keys).any(axis=1) & self._alive)[0]
            shares = (self._stored[rows] == found).mean(axis=1)
            scored.extend(zip(shares.tolist(), (self._stored_ids[r] for r in rows), strict=True))
        best = max((pair for pair in scored if pair[0] >= self.threshold), default=None)
        return best[1] if best is not None else None

    def remove(self, article_id: str) -> None:
        self._signatures.pop(article_id, None)
        row = self._stored_row.pop(article_id, None)
        if row is not None:
            self._alive[row] = False
        self.story_of.pop(article_id, None)

    def grouped(
        self, articles: Iterable[Article], on_copy: Callable[[], None] | None = None
    ) -> Iterator[Article]:
        """Each article with its story set, in the order they come; ``on_copy`` hears of copies.

        Only a copy names a story; the first article of a story (and a lone one) is
        its own story and keeps ``story`` None.
        """
        for article in articles:
            yield replace(article, story=self.story_for(article, on_copy))

    def story_for(self, article: Article, on_copy: Callable[[], None] | None = None) -> str | None:
        """Group ``article``; the story it is a copy of, or None if it is its own."""
        story = self.assign(article.id, article.body)
        if story == article.id:
            return None
        if on_copy is not None:
            on_copy()
        return story

    def _signature_of(self, article_id: str) -> np.ndarray | None:
        found = self._signatures.get(article_id)
        if found is not None:
            return found
        row = self._stored_row.get(article_id)
        return self._stored[row] if row is not None else None

    def save(self, folder: Path, ids: Sequence[str] | None = None) -> None:
        """Write the stories and signatures of ``ids`` (one shard's articles; every
        article when not given) into ``folder``."""
        ids = [i for i in ids if i in self.story_of] if ids is not None else list(self.story_of)
        signed = [(i, s) for i in ids if (s := self._signature_of(i)) is not None]
        matrix = np.array([s for _i, s in signed], np.uint32).reshape(-1, NUM_PERM)
        # Written beside its name and renamed over it: the file may be a hard link
        # shared with the previous generation, which must not change.
        temporary = folder / f"{STORIES_FILE}.tmp"
        with temporary.open("wb") as handle:
            np.savez(
                handle,
                ids=np.array(ids, dtype=str),
                stories=np.array([self.story_of[i] for i in ids], dtype=str),
                signed=np.array([i for i, _s in signed], dtype=str),
                signatures=matrix,
            )
        os.replace(temporary, folder / STORIES_FILE)

    @classmethod
    def load(cls, *folders: Path) -> Stories:
        """The stories saved in ``folders`` (a generation's shards), as one archive;
        empty for a generation written before they were kept."""
        stories = cls()
        signed: list[str] = []
        signatures = []
        for path in (folder / STORIES_FILE for folder in folders):
            if not path.exists():
                continue
            try:
                with np.load(path, allow_pickle=False) as data:
                    ids, groups = data["ids"].tolist(), data["stories"].tolist()
                    stories.story_of.update(zip(ids, groups, strict=True))
                    names, matrix = data["signed"].tolist(), data["signatures"]
                if matrix.shape != (len(names), NUM_PERM):
                    raise ValueError(f"signatures of shape {matrix.shape}")
            except Exception as exc:  # a truncated or altered file: one line naming it
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                raise IndexDamaged(f"{path}: cannot be read ({reason})") from exc
            signed.extend(names)
            signatures.append(matrix)
        stories._stored_ids = signed
        if signatures:
            stories._stored = np.concatenate(signatures)
        stories._stored_row = {i: r for r, i in enumerate(stories._stored_ids)}
        stories._stored_keys = band_keys(stories._stored)
        stories._alive = np.ones(len(stories._stored_ids), bool)
        return stories
