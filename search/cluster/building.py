"""Shard building as Ray work: ``rebuild --ray``'s shard writes, one task per shard.

A local rebuild writes every shard's Whoosh index and vectors in its own process as
the articles come; on a cluster the driver instead keeps each shard's embedded
articles, in input order, in Ray's object store, and once all are embedded runs one
task per shard that builds the shard with ``ShardWrites`` itself, replaying the
calls a local rebuild makes for that shard in the same order: the same documents,
the same vector ids, one way to build a shard. The generation folder must be on a
filesystem every node sees.

Each attempt of a task builds into a folder of its own (named after its shard and
node), so an attempt retried after its node was lost starts clean and a lost
attempt's files can never mix into the result; the driver moves the folder of the
attempt that answered into the generation and removes the rest.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search.errors import ClusterError
from search.ingest.article import Article
from search.ingest.passages import PassageSettings
from search.semantic.vectors import VectorIndex
from search.storage.generations import ShardSinks
from search.storage.shards import SHARDS_DIR, ShardBy, ShardRef, ShardWrites, shard_name

# Articles per object put in the store: a few megabytes of vectors each, so the
# driver holds one unsent batch per shard and a task reads one batch at a time.
BATCH_ARTICLES = 256
# Inside the generation while its shards build: one folder per task attempt.
BUILDING_DIR = ".building"
# Characters of a node id that name it in attempt folders and progress lines.
NODE_CHARS = 8
# A task lost with its node runs again elsewhere; an error of its own is not retried.
TASK_RETRIES = 3

Pair = tuple[Article, np.ndarray]
Notify = Callable[[str], None]


@dataclass(frozen=True)
class BuiltShard:
    """What a shard's task answers: the folder its attempt built, and the node it ran on."""

    folder: str
    node: str


def build_shard(
    target: str, name: str, by: ShardBy, dim: int, passages: dict[str, Any], refs: list[Any]
) -> BuiltShard:
    """Build shard ``name`` from its batches of (article, passage vectors) in
    ``refs`` (object refs, read one at a time), in a fresh attempt folder."""
    import ray

    node = str(ray.get_runtime_context().get_node_id())
    attempt = Path(target) / BUILDING_DIR / f"{name}.{node[:NODE_CHARS]}.{uuid.uuid4().hex}"
    settings = PassageSettings(**passages)
    with ShardWrites(attempt, by, dim, settings) as shards:
        for ref in refs:
            for article, matrix in ray.get(ref):
                shards.upsert(article)
                shards.add_vectors(article, matrix)
        shards.finish()
    return BuiltShard(str(attempt), node)


class ClusterShardWrites:
    """``build_generation``'s shard sink on the connected cluster (``ShardWrites``'
    role in a rebuild): articles are kept per shard, in input order, and ``finish``
    builds every shard in a task of its own.

    An article comes with its vectors (``add_vectors``), so ``upsert`` keeps
    nothing: the task replays both calls for each article, in order.
    """

    def __init__(
        self, target: Path, by: ShardBy, dim: int, passages: PassageSettings, notify: Notify
    ) -> None:
        self.target, self.by, self.dim, self.passages = target, by, dim, passages
        self.notify = notify
        self._pending: dict[str, list[Pair]] = defaultdict(list)
        self._stored: dict[str, list[Any]] = defaultdict(list)
        self._tasks: list[Any] = []
        self._names: list[str] = []

    def __enter__(self) -> ClusterShardWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        for task in self._tasks:  # a failed build stops the others writing
            ray.cancel(task, force=True)

    def shard_for(self, article: Article) -> str:
        return shard_name(article.date, self.by)

    def upsert(self, article: Article) -> None:
        """Nothing to do yet: the article travels with its vectors."""

    def add_vectors(self, article: Article, matrix: np.ndarray) -> None:
        """Keep the article and its passage vectors for its shard's task."""
        import ray

        name = self.shard_for(article)
        pending = self._pending[name]
        pending.append((article, matrix))
        if len(pending) >= BATCH_ARTICLES:
            self._stored[name].append(ray.put(pending))
            self._pending[name] = []

    def finish(self) -> dict[str, VectorIndex]:
        """Build every shard on the cluster, move each into the generation and return
        its vectors by shard name."""
        import ray

        for name, pending in self._pending.items():
            if pending:
                self._stored[name].append(ray.put(pending))
        self._pending.clear()
        self._names = names = sorted(self._stored)
        self.notify(f"building {len(names)} shard(s) on the Ray cluster, a task each")
        started = time.perf_counter()
        task = ray.remote(build_shard).options(num_cpus=1, max_retries=TASK_RETRIES)
        settings = self.passages.to_dict()
        self._tasks = [
            task.remote(str(self.target), name, self.by, self.dim, settings, self._stored[name])
            for name in names
        ]
        try:
            built: list[BuiltShard] = ray.get(self._tasks)
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"the Ray cluster failed while building shards: {first}") from exc
        self._tasks = []
        self._stored.clear()
        vectors = {}
        (self.target / SHARDS_DIR).mkdir(exist_ok=True)
        for name, shard in zip(names, built, strict=True):
            path = ShardRef.named(name).path
            os.replace(Path(shard.folder) / path, self.target / path)
            vectors[name] = VectorIndex.load(self.target / path, mapped=True)
        building = self.target / BUILDING_DIR
        answered = {Path(shard.folder).name for shard in built}
        lost = sorted(p.name for p in building.iterdir() if p.name not in answered)
        shutil.rmtree(building)
        seconds = time.perf_counter() - started
        per_node = Counter(shard.node[:NODE_CHARS] for shard in built)
        self.notify(
            f"built {len(names)} shard(s) on {len(per_node)} node(s) in {seconds:.1f} s ("
            + ", ".join(f"{count} on {node}" for node, count in sorted(per_node.items()))
            + ")"
        )
        where = {name: shard.node[:NODE_CHARS] for name, shard in zip(names, built, strict=True)}
        for attempt in lost:
            name, node, _ = attempt.rsplit(".", 2)
            again = where[name]
            self.notify(f"shard {name}: an attempt on {node} was lost; built again on {again}")
        return vectors

    def shards(self) -> list[ShardRef]:
        """Every shard of the new generation, in name order (their documents' order)."""
        return [ShardRef.named(name) for name in self._names]


def cluster_shard_sinks(notify: Notify) -> ShardSinks:
    """``build_generation``'s ``shard_sinks`` on the connected cluster; ``notify``
    hears a line as the shards start building and when they are built."""
    return functools.partial(ClusterShardWrites, notify=notify)
