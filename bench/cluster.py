"""A multi-node Ray cluster on this machine, shut in namespaces of its own.

The cluster tests and ``bench.scale`` start real Ray nodes (a head and worker
nodes, each a raylet with its workers). ``isolated`` runs a module in a new
network namespace whose only interface is loopback, so no Ray process can bind
or reach the machine's external address; in a new PID namespace, so every
process it started dies with it; and with a temporary folder of its own (a private
tmpfs that is ``TMPDIR`` and ``RAY_TMPDIR`` of the run) and its own ``/dev/shm``,
so it neither joins nor disturbs another Ray on the machine (``auto`` reads the
temporary folder's ``ray/``). ``/tmp`` itself stays visible: the checkout and its
virtual environment may live there. Needs root (``unshare``), as the test
machines give.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from search.engine import Engine
from search.ingest.article import Article
from search.ingest.readers.sources import read_articles

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "wikinews-de" / "articles.jsonl"
# Marks every process of one isolated run, so the caller can prove none outlived it.
TOKEN_VARIABLE = "NEWS_SEARCH_CLUSTER_RUN"
LOOPBACK = "127.0.0.1"
# Ray's defaults (a node is dead after about 30 s without health checks) would make
# a node-loss run wait most of its time; these notice a killed node within seconds.
FAST_FAILURE_DETECTION = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def isolated(module: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``python -m module args`` in its own network, PID and mount namespaces.

    Raises ``RuntimeError`` if any process of the run is still alive afterwards.
    """
    token = uuid.uuid4().hex
    scratch = tempfile.mkdtemp(prefix="cluster-")
    inner = shlex.join([sys.executable, "-m", module, *args])
    script = (
        f"set -e; ip link set lo up; mount -t tmpfs tmpfs {shlex.quote(scratch)}; "
        f"mount -t tmpfs tmpfs /dev/shm; exec {inner}"
    )
    command = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    env = {
        **os.environ,
        **FAST_FAILURE_DETECTION,
        TOKEN_VARIABLE: token,
        "PYTHONPATH": str(REPO),
        "TMPDIR": scratch,
        "RAY_TMPDIR": scratch,
    }
    try:
        result = subprocess.run(
            [*command, "sh", "-c", script],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        os.rmdir(scratch)  # empty here: the run's files were in its own tmpfs
    survivors = _marked_processes(token)
    if survivors:
        raise RuntimeError(f"processes of the isolated run outlived it: {survivors}")
    return result


def _marked_processes(token: str) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if f"{TOKEN_VARIABLE}={token}".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


@contextlib.contextmanager
def local_cluster(workers: int, cpus_per_worker: int = 1) -> Iterator[object]:
    """A head node (the driver's, with no CPUs for work) and ``workers`` worker nodes.

    Every node listens on 127.0.0.1. Yields the ``ray.cluster_utils.Cluster``;
    connect to its ``address`` with ``search.cluster.connect``.
    """
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "node_ip_address": LOOPBACK,
        },
    )
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=cpus_per_worker, node_ip_address=LOOPBACK)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def yearly_lines(years: tuple[str, ...], per_year: int) -> dict[str, list[str]]:
    """The first ``per_year`` wikinews-de records (JSONL lines) of each of ``years``."""
    found: dict[str, list[str]] = {year: [] for year in years}
    with CORPUS.open(encoding="utf-8") as lines:
        for line in lines:
            year = (json.loads(line).get("date") or "")[:4] if line.strip() else ""
            if year in found and len(found[year]) < per_year:
                found[year].append(line.rstrip("\n"))
    return found


def corpus_sample(count: int) -> list[Article]:
    """The first ``count`` wikinews-de articles, read as a rebuild reads them."""
    return list(islice(read_articles([CORPUS]), count))


@dataclasses.dataclass(frozen=True)
class ServingIndex:
    """A small yearly-sharded index for the serving scenarios, its queries (article
    titles, a few of each shard) and an article of another year to add later."""

    index: Path
    queries: list[str]
    later: dict[str, object]


def serving_index(folder: Path, years: tuple[str, ...], per_year: int) -> ServingIndex:
    """Build the index of ``per_year`` articles of each of ``years`` here, locally."""
    later_year = str(int(max(years)) + 1)
    lines = yearly_lines((*years, later_year), per_year)
    source = folder / "articles.jsonl"
    source.write_text("\n".join(line for y in years for line in lines[y]) + "\n", "utf-8")
    index = folder / "index"
    Engine.rebuild([source], index, shard_by="year")
    titles = [json.loads(line)["title"] for y in years for line in lines[y][:: per_year // 3]]
    return ServingIndex(index, titles, json.loads(lines[later_year][0]))


def kill_node(cluster: Any, node: Any) -> None:
    """Take a worker node away as a lost machine would: SIGKILL of its Ray processes
    and of every process they started (its workers, which would otherwise notice their
    raylet's death only after a while, and meanwhile still answer calls)."""
    roots = {process.pid for _kind, process in node.live_processes()}
    started = _descendants(roots)
    cluster.remove_node(node, allow_graceful=False)
    for pid in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _descendants(roots: set[int]) -> set[int]:
    """Every live process below ``roots`` (by parent pid, read from ``/proc``)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parent[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = set(roots)
    while frontier:
        frontier = {pid for pid, up in parent.items() if up in frontier} - found
        found |= frontier
    return found


@dataclasses.dataclass(frozen=True)
class Recovery:
    """Pages asked after a node loss: how many, the most shards one missed, the slowest
    page's seconds, and seconds from the loss to the first page of every shard after
    some without (None: none missed one, or they still miss one)."""

    pages: int
    worst: int
    slowest: float
    whole_after: float | None


def whole_again(failed_shards: Callable[[], int], limit: float, steady: float) -> Recovery:
    """Ask ``failed_shards`` (a page's failed count) until pages have had every shard
    for ``steady`` seconds after some that missed one, or ``limit`` seconds passed."""
    started = time.monotonic()
    pages, worst, slowest, whole_since = 0, 0, 0.0, None
    while (now := time.monotonic()) - started < limit:
        failed = failed_shards()
        slowest = max(slowest, time.monotonic() - now)
        pages += 1
        worst = max(worst, failed)
        if failed:
            whole_since = None
        elif worst and whole_since is None:
            whole_since = now - started
        if whole_since is not None and time.monotonic() - started > whole_since + steady:
            break
        time.sleep(0.25)
    if whole_since is not None and time.monotonic() - started <= whole_since + steady:
        whole_since = None  # whole at the end, but not for long enough to count
    return Recovery(pages, worst, slowest, whole_since)
