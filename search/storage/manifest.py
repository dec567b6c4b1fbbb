"""What built an index: read on open so a model or schema mismatch is caught, not guessed."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from search.errors import IndexDamaged, IndexNotBuilt
from search.ingest.passages import PassageSettings
from search.storage.shards import LEGACY_PATH, WHOLE, ShardRef

# 3: passage spans stored with each article, modules moved into subpackages (the
# Whoosh schema pickles analyzer classes by module path).
# 4: time-partitioned shards (``search.storage.shards``); a schema 3 generation opens
# as one shard in its own folder.
# 5: the neighbour table and the stories kept per shard, in each shard's folder; a
# schema 4 (or 3) generation keeps them in one file each in the generation folder,
# which opens as it is, and its next write stores them per shard.
SCHEMA_VERSION = 5
READABLE_SCHEMA_VERSIONS = (3, 4, SCHEMA_VERSION)
MANIFEST_FILE = "manifest.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Manifest:
    """The self-description of one index generation."""

    model: str
    dim: int
    generation: str
    passages: PassageSettings = field(default_factory=PassageSettings)
    articles: int = 0
    passage_count: int = 0
    # How articles are split into shards, and the shards, in the order their
    # documents are numbered (``search.storage.shards``).
    shard_by: str = "none"
    shards: list[ShardRef] = field(default_factory=lambda: [ShardRef(WHOLE, LEGACY_PATH)])
    schema_version: int = SCHEMA_VERSION
    # Whether the generation lists its files' checksums (search.storage.integrity); an
    # index written before they existed has none, and a missing list is damage only here.
    checksummed: bool = False
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)

    @property
    def shard_files(self) -> bool:
        """Whether the neighbour table and the stories are kept per shard (schema 5)."""
        return self.schema_version >= 5

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passages"] = self.passages.to_dict()
        data["shards"] = [shard.to_dict() for shard in self.shards]
        return data

    def save(self, folder: Path) -> None:
        self.updated = _now()
        tmp = folder / f"{MANIFEST_FILE}.tmp"
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder / MANIFEST_FILE)

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexNotBuilt(f"{folder}: no {MANIFEST_FILE}; run `news-search rebuild`") from exc
        except (OSError, ValueError) as exc:
            raise IndexDamaged(f"{path}: unreadable manifest ({exc})") from exc
        if not isinstance(data, dict):
            raise IndexDamaged(f"{path}: unreadable manifest (not an object)")
        if data.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
            raise IndexNotBuilt(
                f"{folder}: index schema version {data.get('schema_version')} is not "
                f"{SCHEMA_VERSION}; rebuild it with `news-search rebuild`",
                public="the index was written by another version; it needs `news-search rebuild`",
            )
        try:
            data["passages"] = PassageSettings(**data.get("passages", {}))
            if "shards" in data:
                data["shards"] = [ShardRef(**shard) for shard in data["shards"]]
            manifest = cls(**data)
        except TypeError as exc:
            raise IndexDamaged(f"{path}: unreadable manifest ({exc})") from exc
        if not isinstance(manifest.dim, int) or manifest.dim <= 0:
            raise IndexDamaged(f"{path}: dimension {manifest.dim!r} is not a positive integer")
        return manifest
