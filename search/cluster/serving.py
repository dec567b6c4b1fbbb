"""Shard searchers on a Ray cluster: ``serve --ray``'s vector side.

The front (the HTTP server) keeps the lexical side, the fusion and the page; it
opens the Whoosh shards from the index folder, so lexical statistics stay the
archive's. The vector search of each shard, the memory- and CPU-heavy part, runs in
Ray actors: ``replicas`` per shard, each on another node where there are enough,
each mapping its shard's vector files from the same folder (a shared filesystem).

Every call names the generation it reads, and a searcher opens that generation's
files when it does not hold them yet, so no answer mixes generations and a searcher
restarted elsewhere (actors restart without limit) serves again without being told.
After a write the front asks every replica of every shard to open the new
generation before it moves to it; files a write did not touch are hard links of the
previous generation's, which a searcher recognises by inode and keeps.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from search.cluster.connect import connect
from search.errors import ClusterError, SearchError
from search.semantic.vectors import KEYS_FILE, VECTORS_FILE, Nearest, VectorIndex
from search.storage.generations import Generation

# Seconds one replica has to answer a search before the next one is asked; a shard
# whose replicas all fail is left out of the answer and reported.
REPLY_SECONDS = 2.0
# Seconds a replica that failed is asked only after the others.
SUSPECT_SECONDS = 10.0
# Seconds a generation switch waits for every replica to open the new files; one
# that does not opens them on its first search instead.
PREPARE_SECONDS = 10.0
# Seconds the searchers have to start when the server starts.
START_SECONDS = 120.0
# What a searcher reserves: a sliver of a CPU, so it is placed only on nodes with
# CPUs (never a CPU-less head) and many fit on one.
SEARCHER_CPUS = 0.01
# Searches one replica runs at once (FAISS releases the GIL while it searches).
SEARCHER_THREADS = 4
# Threads of the front waiting for searchers' answers (requests x shards at once).
CALL_THREADS = 64
# Generations a searcher keeps open: the live one and the one requests may still read.
KEPT_GENERATIONS = 2


class ShardUnavailable(SearchError):
    """No replica of a shard answered in time."""


class ShardSearcher:
    """One replica of one shard (a Ray actor): its vectors, mapped from the index folder."""

    def __init__(self, index: str) -> None:
        self.index = Path(index)
        # By "generation/shard", with the identity of the files (a write's untouched
        # shards are hard links, so the same files, opened once).
        self._open: OrderedDict[str, tuple[tuple[int, ...], VectorIndex]] = OrderedDict()
        self._lock = threading.Lock()

    def node(self) -> str:
        """The id of the node this replica runs on."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def prepare(self, generation: str, shard: str) -> int:
        """Open the shard's files of ``generation``; returns its article count."""
        return len(self._vectors(generation, shard))

    def _vectors(self, generation: str, shard: str) -> VectorIndex:
        key = f"{generation}/{shard}"
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key][1]
            folder = self.index / generation / shard
            files = (*_identity(folder / VECTORS_FILE), *_identity(folder / KEYS_FILE))
            kept = {identity: vectors for identity, vectors in self._open.values()}
            vectors = kept.get(files) or VectorIndex.load(folder, mapped=True)
            self._open[key] = (files, vectors)
            while len({k.split("/", 1)[0] for k in self._open}) > KEPT_GENERATIONS:
                self._open.popitem(last=False)
            return vectors

    def nearest(
        self,
        generation: str,
        shard: str,
        vector: np.ndarray,
        depth: int,
        threshold: float | None,
        exclude: frozenset[str],
    ) -> Nearest:
        return self._vectors(generation, shard).nearest(vector, depth, threshold, exclude)


def _identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


class RemoteShard:
    """What ``ShardedVectors`` asks of one shard of one generation, answered by its
    replicas: a live one, tried in turn, each within ``REPLY_SECONDS``."""

    def __init__(
        self, pool: SearcherPool, name: str, generation: str, path: str, local: VectorIndex
    ) -> None:
        self._pool, self.name, self._generation, self._path = pool, name, generation, path
        self._local = local  # this generation's ids, to send only the exclusions that matter

    def nearest(
        self,
        vector: np.ndarray,
        depth: int,
        threshold: float | None,
        exclude: frozenset[str] = frozenset(),
    ) -> Nearest:
        return self._ask("nearest", vector, depth, threshold, self._mine(exclude))

    def _mine(self, exclude: frozenset[str]) -> frozenset[str]:
        """The exclusions among this shard's articles: only those travel."""
        return exclude & self._ids if exclude else exclude

    @functools.cached_property
    def _ids(self) -> frozenset[str]:
        return frozenset(self._local.ids())

    def _ask(self, method: str, *args: Any) -> Any:
        import ray

        for replica in self._pool.replicas_in_order(self.name):
            handle = self._pool.handle(self.name, replica)
            call = getattr(handle, method).remote(self._generation, self._path, *args)
            try:
                return ray.get(call, timeout=REPLY_SECONDS)
            except (ray.exceptions.RayError, ray.exceptions.GetTimeoutError):
                self._pool.suspect(self.name, replica)
        raise ShardUnavailable(f"no replica of shard {self.name} answered")


class SearcherPool:
    """Every shard's searchers on the connected cluster, ``replicas`` per shard.

    ``attach`` is the engine's hook (``Engine(searchers=...)``): it readies every
    replica for a generation the engine opens, then makes that generation's vector
    searches go to them.
    """

    def __init__(self, index: Path, replicas: int) -> None:
        self.index = index.resolve()
        self.replicas = replicas
        self._actors: dict[str, list[Any]] = {}
        self._suspect: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()
        # Threads that wait for the searchers' answers, all shards of a search at once.
        self._calls = ThreadPoolExecutor(CALL_THREADS, thread_name_prefix="remote-shard")

    def attach(self, generation: Generation) -> None:
        import ray

        refs = [(ref.name, ref.path) for ref in generation.shards]
        for name, _path in refs:
            if name not in self._actors:
                self._actors[name] = self._start(name)
        for gone in set(self._actors) - {name for name, _ in refs}:
            for actor in self._actors.pop(gone):
                ray.kill(actor)
        calls = [
            actor.prepare.remote(generation.name, path)
            for name, path in refs
            for actor in self._actors[name]
        ]
        # A replica that is not ready in time opens the files on its first search.
        ray.wait(calls, num_returns=len(calls), timeout=PREPARE_SECONDS)
        remote = [
            RemoteShard(self, name, generation.name, path, local)
            for (name, path), local in zip(refs, generation.vectors.shards, strict=True)
        ]
        generation.vectors.search_with(remote, self._calls)

    def _start(self, name: str) -> list[Any]:
        """``replicas`` searchers of shard ``name``, each preferring another node (a
        soft preference: a restarted one goes to any live node)."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = _worker_nodes()
        offset = len(self._actors)
        searcher = ray.remote(ShardSearcher)
        actors = []
        for replica in range(self.replicas):
            node = nodes[(offset + replica) % len(nodes)]
            actors.append(
                searcher.options(
                    num_cpus=SEARCHER_CPUS,
                    max_concurrency=SEARCHER_THREADS,
                    max_restarts=-1,
                    max_task_retries=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
                ).remote(str(self.index))
            )
        return actors

    def placement(self) -> dict[str, list[str]]:
        """The node each replica of each shard runs on, by shard."""
        import ray

        try:
            return {
                name: ray.get([actor.node.remote() for actor in actors], timeout=START_SECONDS)
                for name, actors in self._actors.items()
            }
        except (ray.exceptions.RayError, ray.exceptions.GetTimeoutError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"the shard searchers did not start: {first}") from exc

    def handle(self, name: str, replica: int) -> Any:
        return self._actors[name][replica]

    def replicas_in_order(self, name: str) -> list[int]:
        """The replicas of ``name``, those without a recent failure first, from a
        rotating start so that healthy replicas share the load."""
        count = len(self._actors[name])
        start = int(time.monotonic() * 1000) % count
        order = [(start + i) % count for i in range(count)]
        now = time.monotonic()
        with self._lock:
            return sorted(order, key=lambda r: self._suspect.get((name, r), 0.0) > now)

    def suspect(self, name: str, replica: int) -> None:
        with self._lock:
            self._suspect[(name, replica)] = time.monotonic() + SUSPECT_SECONDS


def _worker_nodes() -> list[str]:
    """Live nodes with CPUs to work on (all live nodes, where none has any)."""
    import ray

    alive = [node for node in ray.nodes() if node.get("Alive")]
    working = [n for n in alive if n.get("Resources", {}).get("CPU", 0) > 0] or alive
    return sorted(node["NodeID"] for node in working)


def describe(placement: dict[str, list[str]]) -> str:
    """One line: how many shards, replicas and nodes."""
    nodes = {node for replicas in placement.values() for node in replicas}
    spread = min((len(set(replicas)) for replicas in placement.values()), default=0)
    replicas = max((len(replicas) for replicas in placement.values()), default=0)
    return (
        f"{len(placement)} shard(s) x {replicas} replica(s) on {len(nodes)} node(s); "
        f"each shard on {spread} node(s) at least"
    )


@contextlib.contextmanager
def serving_cluster(
    address: str | None, index: Path, replicas: int
) -> Iterator[SearcherPool | None]:
    """Connected to the cluster at ``address`` for the block, the shard searchers of
    ``index`` (they start as the engine opens its first generation); ``None``
    (search here) without an address."""
    if address is None:
        yield None
        return
    with connect(address):
        yield SearcherPool(index, replicas)
