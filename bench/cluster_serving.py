"""Serving through Ray's shard searchers against local serving, over real HTTP.

    python -m bench.cluster_serving --per-year 100 --repeat 3

A yearly-sharded index of wikinews-de articles (``--per-year`` of each of three years)
is served three ways at once, each one process: ``serve`` (local), and
``serve --ray HOST:PORT`` with 1 and with 2 replicas per shard on a cluster of a
CPU-less head and two one-CPU worker nodes, all on this machine. The ways take turns,
``--repeat`` rounds: one client asking the queries (article titles, hybrid) one
after another for the latency, then ``--clients`` clients for ``--seconds`` for
requests/s; each row is the median of the rounds. Then one worker node is killed
(its Ray processes and workers) and both Ray servers are asked until every shard
answers again. Runs inside ``bench.cluster.isolated`` (loopback only).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from statistics import median

import httpx

from bench.cluster import (
    TOKEN_VARIABLE,
    Recovery,
    isolated,
    kill_node,
    local_cluster,
    serving_index,
    whole_again,
)
from bench.serving import _concurrent, _latencies, _search_path, server

YEARS = ("2005", "2006", "2007")
RUN_SECONDS = 1800
RECOVERY_SECONDS = 90.0
STEADY_SECONDS = 3.0


def _failed(client: httpx.Client, path: str) -> int:
    answer = client.get(path)
    answer.raise_for_status()
    return int(answer.json()["shards"]["failed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-year", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if TOKEN_VARIABLE not in os.environ:
        argv = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()]
        result = isolated("bench.cluster_serving", argv, RUN_SECONDS)
        print(result.stdout, end="")
        if result.returncode:
            print(result.stderr[-4000:], file=sys.stderr)
        sys.exit(result.returncode)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    folder = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    built = serving_index(folder, YEARS, args.per_year)
    paths = [_search_path(query, "hybrid") for query in built.queries]
    print(f"{args.per_year * len(YEARS)} articles in {len(YEARS)} yearly shards; ", end="")
    print(f"{len(paths)} queries, {args.clients} clients for {args.seconds:.0f} s a round")
    with local_cluster(2) as cluster, ExitStack() as stack:
        ways = {"local (serve, 1 process)": ()} | {
            f"serve --ray, {r} replica(s) per shard": (
                "--ray",
                cluster.address,
                "--replicas",
                str(r),
            )
            for r in (1, 2)
        }
        bases = {}
        for name, options in ways.items():
            started = time.perf_counter()
            log = folder / f"{len(bases)}.log"
            bases[name] = stack.enter_context(server(built.index, log, *options))[0]
            print(f"{name}: up in {time.perf_counter() - started:.1f} s")
        clients = {
            name: stack.enter_context(httpx.Client(base_url=base, timeout=60))
            for name, base in bases.items()
        }
        rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for _round in range(args.repeat):
            for name, base in bases.items():
                latency = _latencies(clients[name], paths, 3)
                rate = _concurrent(base, paths, args.clients, args.seconds)
                rows[name]["p50"].append(latency["p50"])
                rows[name]["p95"].append(latency["p95"])
                rows[name]["rps"].append(rate["requests_per_s"])
        local = median(rows[next(iter(rows))]["rps"])
        print(f"\n| way | p50 ms | p95 ms | requests/s ({args.clients} clients) | against local |")
        print("|---|---:|---:|---:|---:|")
        for name, row in rows.items():
            rps = median(row["rps"])
            print(
                f"| {name} | {median(row['p50']):.1f} | {median(row['p95']):.1f} "
                f"| {rps:.1f} | {rps / local:.2f}x |"
            )
        print()
        kill_node(cluster, next(iter(cluster.worker_nodes)))
        # Both Ray servers are asked at once, each from the moment of the loss.
        with ThreadPoolExecutor(2) as pool:
            asked = {
                name: pool.submit(
                    whole_again,
                    lambda c=clients[name]: _failed(c, paths[0]),
                    RECOVERY_SECONDS,
                    STEADY_SECONDS,
                )
                for name in list(bases)[1:]
            }
            losses: dict[str, Recovery] = {name: done.result() for name, done in asked.items()}
        print(
            "| after a worker node is killed | pages | most failed shards "
            "| slowest page s | every shard again after s |"
        )
        print("|---|---:|---:|---:|---:|")
        for name, loss in losses.items():
            after = "no page missed one" if not loss.worst else "not within the limit"
            if loss.whole_after is not None:
                after = f"{loss.whole_after:.1f}"
            print(f"| {name} | {loss.pages} | {loss.worst} | {loss.slowest:.1f} | {after} |")


if __name__ == "__main__":
    main()
