"""Embedding throughput through Ray against the local rebuild's embedding path.

    python -m bench.scale --articles 300

Embedding is about 90% of a rebuild's CPU time, so it is what a cluster must speed
up. The same wikinews-de articles are embedded (a) by the local rebuild's path
(``embedded_batches``: in-process, then one worker process per core) with one and
with every core, and (b) by ``search.cluster.embedding`` on a cluster of a CPU-less
head and 1 or 2 one-CPU worker nodes, all on this machine (the second node joins
for its turn and leaves after). Each rate counts the actors' or workers' start-up
(a model load each), not the cluster's start. The ways take turns, ``--repeat``
rounds, and each reports its median: other work on the machine then slows them
alike. Runs inside ``bench.cluster.isolated`` (loopback only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from statistics import median

from bench.cluster import LOOPBACK, TOKEN_VARIABLE, corpus_sample, isolated, local_cluster
from search.cluster.connect import connect
from search.cluster.embedding import embed_on_cluster
from search.ingest.article import Article
from search.ingest.indexing import BATCH_ARTICLES, batches, embedded_batches
from search.ingest.passages import PassageSettings
from search.semantic.embedders import DEFAULT_MODEL, UniversalSentenceEncoder

RUN_SECONDS = 1800


def _timed(run: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    count = run()
    return count, time.perf_counter() - started


def _local(articles: list[Article], workers: int) -> int:
    settings = PassageSettings()
    embedded = embedded_batches(
        batches(articles, BATCH_ARTICLES),
        UniversalSentenceEncoder(),
        settings,
        lambda _batch: None,
        workers=workers,
    )
    return sum(len(batch) for batch, _ in embedded)


def _ray(articles: Iterable[Article], workers: int) -> int:
    pairs = embed_on_cluster(articles, DEFAULT_MODEL, PassageSettings(), workers=workers)
    return sum(1 for _ in pairs)


def measure(count: int, repeat: int) -> tuple[dict[str, list[float]], int, float]:
    """Seconds of each way, per round (the ways take turns, so load hits them alike);
    the article count; the cluster's start-up seconds."""
    articles = corpus_sample(count)
    seconds: dict[str, list[float]] = defaultdict(list)
    started = time.perf_counter()
    with local_cluster(1) as cluster, connect(cluster.address):
        start = time.perf_counter() - started
        for _ in range(repeat):
            for workers in (1, 2):
                done, spent = _timed(lambda w=workers: _local(articles, w))
                seconds[f"local rebuild path, {workers} process(es)"].append(spent)
            done, spent = _timed(lambda: _ray(articles, 1))
            seconds["Ray, 1 worker node of 1 CPU"].append(spent)
            node = cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)
            cluster.wait_for_nodes()
            done, spent = _timed(lambda: _ray(articles, 2))
            seconds["Ray, 2 worker nodes of 1 CPU"].append(spent)
            cluster.remove_node(node)
    return seconds, done, start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if TOKEN_VARIABLE not in os.environ:
        argv = ["--articles", str(args.articles), "--repeat", str(args.repeat)]
        result = isolated("bench.scale", argv, RUN_SECONDS)
        print(result.stdout, end="")
        if result.returncode:
            print(result.stderr[-4000:], file=sys.stderr)
        sys.exit(result.returncode)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start; {args.articles} articles")
    seconds, done, start = measure(args.articles, args.repeat)
    base = median(seconds["local rebuild path, 2 process(es)"])
    print(f"cluster start (head and one worker node): {start:.1f} s, not counted below")
    print(
        f"| embedding by | articles/s (median of {args.repeat}) | range | vs local, 2 processes |"
    )
    print("|---|---:|---:|---:|")
    for how, spent in seconds.items():
        rates = sorted(done / s for s in spent)
        print(
            f"| {how} | {done / median(spent):.1f} | {rates[0]:.1f}-{rates[-1]:.1f} | "
            f"{base / median(spent):.2f}x |"
        )


if __name__ == "__main__":
    main()
