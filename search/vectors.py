"""The semantic side: passage vectors in FAISS, mapped back to articles.

Each article gets an integer key; its passage ``n`` is stored under the FAISS id
``key << PASSAGE_BITS | n``, so an article's passages can be found, removed and
rebuilt from the key alone, and a passage hit names its article without a lookup
table per passage.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

PASSAGE_BITS = 10
VECTORS_FILE = "vectors.faiss"
KEYS_FILE = "vectors.json"


@dataclass(frozen=True)
class SemanticHit:
    """An article's best passage for a query: its cosine score and position."""

    article_id: str
    score: float
    passage: int


class VectorIndex:
    """Passage vectors of every article in one exact inner-product FAISS index."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._next_key = 0
        self._key_of: dict[str, int] = {}
        self._article_of: dict[int, str] = {}
        self._passages: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._key_of)

    @property
    def passage_count(self) -> int:
        return int(self._index.ntotal)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._key_of

    def ids(self) -> set[str]:
        return set(self._key_of)

    # -- writing -----------------------------------------------------------------------

    def add(self, article_id: str, vectors: np.ndarray) -> None:
        """Store an article's passage vectors, replacing any it had."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(vectors) >= 1 << PASSAGE_BITS:
            raise ValueError(f"{len(vectors)} passages; at most {(1 << PASSAGE_BITS) - 1}")
        self.remove(article_id)
        key = self._next_key
        self._next_key += 1
        ids = (np.int64(key) << PASSAGE_BITS) + np.arange(len(vectors), dtype=np.int64)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._key_of[article_id] = key
        self._article_of[key] = article_id
        self._passages[key] = len(vectors)

    def remove(self, article_id: str) -> bool:
        key = self._key_of.pop(article_id, None)
        if key is None:
            return False
        del self._article_of[key]
        count = self._passages.pop(key)
        ids = (np.int64(key) << PASSAGE_BITS) + np.arange(count, dtype=np.int64)
        self._index.remove_ids(faiss.IDSelectorArray(ids))
        return True

    # -- reading -----------------------------------------------------------------------

    def vectors_of(self, article_id: str) -> np.ndarray:
        key = self._key_of[article_id]
        ids = (np.int64(key) << PASSAGE_BITS) + np.arange(self._passages[key], dtype=np.int64)
        return np.vstack([self._index.reconstruct(int(i)) for i in ids])

    def search(
        self, vector: np.ndarray, depth: int, exclude: frozenset[str] = frozenset()
    ) -> list[SemanticHit]:
        """The ``depth`` articles whose best passage is nearest to ``vector``."""
        if self._index.ntotal == 0 or depth <= 0:
            return []
        hits: dict[str, SemanticHit] = {}
        # Several passages of one article can crowd the top; widen until enough
        # distinct articles are found or every passage was looked at.
        k = min(self._index.ntotal, max(depth * 4, 32))
        while True:
            scores, ids = self._index.search(vector.reshape(1, -1).astype(np.float32), k)
            hits.clear()
            for score, passage_id in zip(scores[0], ids[0], strict=True):
                if passage_id < 0:
                    continue
                article_id = self._article_of[int(passage_id) >> PASSAGE_BITS]
                if article_id in exclude or article_id in hits:
                    continue
                passage = int(passage_id) & ((1 << PASSAGE_BITS) - 1)
                hits[article_id] = SemanticHit(article_id, float(score), passage)
            if len(hits) >= depth or k >= self._index.ntotal:
                break
            k = min(self._index.ntotal, k * 4)
        return sorted(hits.values(), key=lambda h: -h.score)[:depth]

    # -- persistence -------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write both files beside their final names, then rename each into place."""
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(folder / f"{VECTORS_FILE}.tmp"))
        keys = {
            "dim": self.dim,
            "next_key": self._next_key,
            "articles": {a: [k, self._passages[k]] for a, k in self._key_of.items()},
        }
        (folder / f"{KEYS_FILE}.tmp").write_text(json.dumps(keys), encoding="utf-8")
        os.replace(folder / f"{VECTORS_FILE}.tmp", folder / VECTORS_FILE)
        os.replace(folder / f"{KEYS_FILE}.tmp", folder / KEYS_FILE)

    @classmethod
    def load(cls, folder: Path) -> VectorIndex:
        keys = json.loads((folder / KEYS_FILE).read_text(encoding="utf-8"))
        store = cls(int(keys["dim"]))
        store._index = faiss.read_index(str(folder / VECTORS_FILE))
        store._next_key = int(keys["next_key"])
        for article_id, (key, count) in keys["articles"].items():
            store._key_of[article_id] = key
            store._article_of[key] = article_id
            store._passages[key] = count
        return store
