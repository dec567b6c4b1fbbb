"""Time-partitioned shards: which shard an article belongs to, and where shards live.

News archives are time series: articles arrive in date order, old ones rarely
change, and people search by period. So a generation splits its articles by date
into shards, each a complete lexical and vector index of its articles, in
``shards/<name>/`` inside the generation folder. A write builds new files only for
the shards it touches; the others are hard links of the previous generation's
(``IndexFolder.new_generation``), which is what makes a one-article add cheap at any
archive size. Readers see one archive: the lexical side reads every shard through
one Whoosh reader (archive-wide statistics), the semantic side searches the shards
and merges (``search.semantic.sharded``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np

from search.errors import InputError
from search.ingest.article import Article
from search.ingest.passages import PassageSettings
from search.lexical.index import LexicalIndex
from search.lexical.schema import LexicalWriter
from search.semantic.vectors import VectorIndex
from search.storage.folder import LEXICAL_DIR

ShardBy = Literal["year", "month", "none"]
SHARD_BY: tuple[ShardBy, ...] = ("year", "month", "none")
# Yearly shards: ten years of a daily paper are ten shards of a size where one
# shard's vectors stay a small part of the memory, and a period filter (a year,
# a month) skips all but one or two of them.
DEFAULT_SHARD_BY: ShardBy = "year"
SHARDS_DIR = "shards"
# The one shard of ``--shard-by none``, and the shard of articles without a date.
WHOLE = "all"
UNDATED = "undated"
# An index written before shards (schema 3) is one shard in the generation folder.
LEGACY_PATH = "."


def shard_by(value: str) -> ShardBy:
    """``value`` as a sharding, or a one-line error naming the choices."""
    if value not in SHARD_BY:
        raise InputError(f"shard-by must be one of {', '.join(SHARD_BY)}, not {value!r}")
    return cast(ShardBy, value)


def shard_name(date: str | None, by: ShardBy) -> str:
    """The shard an article dated ``date`` (``2025``, ``2025-02``, ``2025-02-13``...)
    belongs to: its year or month, ``undated`` without one (or a year-only date
    under monthly shards, which has no month to go by)."""
    if by == "none":
        return WHOLE
    if not date:
        return UNDATED
    if by == "year":
        return date[:4]
    return date[:7] if len(date) >= 7 and date[4] == "-" else UNDATED


@dataclass(frozen=True)
class ShardRef:
    """A shard of a generation: its name and its folder relative to the generation."""

    name: str
    path: str

    @classmethod
    def named(cls, name: str) -> ShardRef:
        return cls(name, f"{SHARDS_DIR}/{name}")

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path}


class ShardWrites:
    """The shards a rebuild or a write changes, each opened on its first article.

    Lexical writes come from the indexing thread and vectors from the embedding
    loop, so opening a shard is locked. A shard of ``base`` (the live generation)
    is changed in its hard-linked copy inside ``target``; its vectors are loaded,
    changed and saved as new files. ``finish`` commits every Whoosh writer and saves
    the vectors; leaving the block by an exception cancels them all.
    """

    def __init__(
        self,
        target: Path,
        by: ShardBy,
        dim: int,
        passages: PassageSettings,
        base: Path | None = None,
        existing: Sequence[ShardRef] = (),
    ) -> None:
        self.target, self.by, self.dim, self.passages = target, by, dim, passages
        self.base = base
        self.refs = {ref.name: ref for ref in existing}
        self._open: dict[str, tuple[LexicalWriter, VectorIndex]] = {}
        self._lexical: list[LexicalIndex] = []
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ShardWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(*exc)  # type: ignore[arg-type]

    def shard_for(self, article: Article) -> str:
        return shard_name(article.date, self.by)

    def _shard(self, name: str) -> tuple[LexicalWriter, VectorIndex]:
        with self._lock:
            found = self._open.get(name)
            if found is not None:
                return found
            ref = self.refs.setdefault(name, ShardRef.named(name))
            folder = self.target / ref.path
            if self.base is not None and (self.base / ref.path / LEXICAL_DIR).is_dir():
                lexical = LexicalIndex(folder / LEXICAL_DIR)
                vectors = VectorIndex.load(self.base / ref.path)
                writer = self._stack.enter_context(lexical.writer(passages=self.passages))
            else:
                lexical = LexicalIndex.create(folder / LEXICAL_DIR)
                vectors = VectorIndex(self.dim)
                writer = self._stack.enter_context(lexical.writer(True, self.passages))
            self._lexical.append(lexical)
            found = self._open[name] = (writer, vectors)
            return found

    def upsert(self, article: Article) -> None:
        """Write an article's lexical document into its shard."""
        self._shard(self.shard_for(article))[0].upsert(article)

    def add_vectors(self, article: Article, matrix: np.ndarray) -> None:
        """Store an article's passage vectors in its shard."""
        self._shard(self.shard_for(article))[1].add(article.id, matrix)

    def delete(self, article_id: str, shard: str) -> None:
        """Delete an article from the shard that holds it."""
        writer, vectors = self._shard(shard)
        writer.delete(article_id)
        vectors.remove(article_id)

    def finish(self) -> dict[str, VectorIndex]:
        """Commit every changed shard and save its vectors; return them by shard name."""
        self._stack.close()  # commits the Whoosh writers
        for lexical in self._lexical:
            lexical.close()
        changed = {}
        for name, (_writer, vectors) in sorted(self._open.items()):
            vectors.optimize()  # the exact scan or a graph, whichever the size calls for
            vectors.save(self.target / self.refs[name].path)
            changed[name] = vectors
        return changed

    def shards(self) -> list[ShardRef]:
        """Every shard of the new generation, in name order (their documents' order)."""
        return [self.refs[name] for name in sorted(self.refs)]
