"""Rebuild and embedding throughput on a Ray cluster against the single-machine rebuild.

    python -m bench.scale --articles 300 --repeat 3

Embedding is about 90% of a rebuild's CPU time, so it is what a cluster must speed
up. The same wikinews-de articles are (a) embedded alone: by the local rebuild's
path (``embedded_batches``: in-process, then one worker process per core) with one
and with every core, and by ``search.cluster.embedding`` on a cluster of a CPU-less
head and 1 or 2 one-CPU worker nodes, all on this machine; and (b) rebuilt whole
(read, group, embed, write the shards, neighbours, checksums): ``Engine.rebuild``
here, and as ``rebuild --ray`` does on the same clusters (embedding, and each shard
built by a task), and with only the embedding there (the shards written here, as
``rebuild --ray`` did before). The second
worker node joins for its turn and leaves after. Each rate counts the actors' or
workers' start-up (a model load each), not the cluster's start. The ways take
turns, ``--repeat`` rounds, and each reports its median, so other work on the
machine slows them alike. Runs inside ``bench.cluster.isolated`` (loopback only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import median

from bench.cluster import CORPUS, LOOPBACK, TOKEN_VARIABLE, corpus_sample, isolated, local_cluster
from search.cluster.building import cluster_shard_sinks
from search.cluster.connect import connect
from search.cluster.embedding import ClusterEmbedding, embed_on_cluster
from search.engine import Engine
from search.ingest.article import Article
from search.ingest.indexing import BATCH_ARTICLES, batches, embedded_batches
from search.ingest.passages import PassageSettings
from search.semantic.embedders import DEFAULT_MODEL, UniversalSentenceEncoder
from search.storage.shards import DEFAULT_SHARD_BY, SHARD_BY, ShardBy

RUN_SECONDS = 3000
LOCAL_EMBED = "embedding, local rebuild path, {} process(es)"
RAY_EMBED = "embedding, Ray, {} worker node(s) of 1 CPU"
LOCAL_REBUILD = "rebuild, this machine (2 processes)"
RAY_REBUILD = "rebuild --ray, {} worker node(s) of 1 CPU"
RAY_EMBED_ONLY = "rebuild, embedding only on Ray, {} worker node(s) of 1 CPU"


def _embed_locally(articles: list[Article], workers: int) -> int:
    embedded = embedded_batches(
        batches(articles, BATCH_ARTICLES),
        UniversalSentenceEncoder(),
        PassageSettings(),
        lambda _batch: None,
        workers=workers,
    )
    return sum(len(batch) for batch, _ in embedded)


def _embed_on_ray(articles: list[Article], workers: int) -> int:
    pairs = embed_on_cluster(articles, DEFAULT_MODEL, PassageSettings(), workers=workers)
    return sum(1 for _ in pairs)


def _rebuild(source: Path, by: ShardBy, workers: int | None, shards_on_cluster: bool = True) -> int:
    """Rebuild ``source`` into a fresh folder: here, or embedding on ``workers`` actors
    of the cluster and (``shards_on_cluster``) building the shards there."""
    index = Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        embed = ClusterEmbedding(workers) if workers else None
        sinks = cluster_shard_sinks(lambda _line: None) if workers and shards_on_cluster else None
        _engine, report = Engine.rebuild(
            [source], index, shard_by=by, embed=embed, shard_sinks=sinks
        )
        return report.stats.articles
    finally:
        shutil.rmtree(index, ignore_errors=True)


Timings = dict[str, list[float]]


def measure(count: int, repeat: int, by: ShardBy) -> tuple[Timings, int, float]:
    """Seconds of each way in each round, the article count, the cluster's start-up."""
    articles = corpus_sample(count)
    source = Path(tempfile.mkdtemp(prefix="scale-source-")) / "articles.jsonl"
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:count]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    seconds: Timings = defaultdict(list)

    def timed(name: str, run: Callable[[], int]) -> None:
        started = time.perf_counter()
        done = run()
        seconds[name].append(time.perf_counter() - started)
        assert done == len(articles), f"{name}: {done} of {len(articles)} articles"

    started = time.perf_counter()
    with local_cluster(1) as cluster, connect(cluster.address):
        start = time.perf_counter() - started
        for _ in range(repeat):
            for workers in (1, 2):
                timed(LOCAL_EMBED.format(workers), lambda w=workers: _embed_locally(articles, w))
            timed(LOCAL_REBUILD, lambda: _rebuild(source, by, None))
            timed(RAY_EMBED.format(1), lambda: _embed_on_ray(articles, 1))
            timed(RAY_REBUILD.format(1), lambda: _rebuild(source, by, 1))
            timed(RAY_EMBED_ONLY.format(1), lambda: _rebuild(source, by, 1, False))
            node = cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)
            cluster.wait_for_nodes()
            timed(RAY_EMBED.format(2), lambda: _embed_on_ray(articles, 2))
            timed(RAY_REBUILD.format(2), lambda: _rebuild(source, by, 2))
            timed(RAY_EMBED_ONLY.format(2), lambda: _rebuild(source, by, 2, False))
            cluster.remove_node(node)
    return seconds, len(articles), start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shard-by", choices=SHARD_BY, default=DEFAULT_SHARD_BY)
    args = parser.parse_args()
    if TOKEN_VARIABLE not in os.environ:
        argv = ["--articles", str(args.articles), "--repeat", str(args.repeat)]
        argv += ["--shard-by", args.shard_by]
        result = isolated("bench.scale", argv, RUN_SECONDS)
        print(result.stdout, end="")
        if result.returncode:
            print(result.stderr[-4000:], file=sys.stderr)
        sys.exit(result.returncode)
    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} cores, load average {load:.1f} at the start; {args.articles} "
        f"articles, shards by {args.shard_by}"
    )
    seconds, count, start = measure(args.articles, args.repeat, args.shard_by)
    print(f"cluster start (head and one worker node): {start:.1f} s, not counted below\n")
    print(f"| way | articles/s (median of {args.repeat}) | range | against this machine |")
    print("|---|---:|---:|---:|")
    for kind, base in (("embedding", LOCAL_EMBED.format(2)), ("rebuild", LOCAL_REBUILD)):
        reference = median(seconds[base])
        for how, spent in seconds.items():
            if how.startswith(kind):
                rates = sorted(count / s for s in spent)
                print(
                    f"| {how} | {count / median(spent):.1f} | {rates[0]:.1f}-{rates[-1]:.1f} "
                    f"| {reference / median(spent):.2f}x |"
                )


if __name__ == "__main__":
    main()
