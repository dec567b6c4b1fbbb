"""Reading a generation folder's files directly, as the layout tests need to."""

from __future__ import annotations

from pathlib import Path

from search.lexical.index import LexicalIndex
from search.semantic.vectors import VectorIndex
from search.storage.folder import LEXICAL_DIR
from search.storage.manifest import Manifest


def shard_folders(generation: Path) -> list[Path]:
    """The folders of a generation's shards, in the manifest's order."""
    return [generation / shard.path for shard in Manifest.load(generation).shards]


def sides(generation: Path) -> tuple[set[str], set[str]]:
    """The article ids on the lexical and on the semantic side of one generation."""
    folders = shard_folders(generation)
    lexical = LexicalIndex([folder / LEXICAL_DIR for folder in folders])
    try:
        ids = lexical.ids()
    finally:
        lexical.close()
    return ids, set().union(*(VectorIndex.load(folder).ids() for folder in folders))
