"""The cluster scenarios, run as ``python -m tests.cluster`` inside ``bench.cluster.isolated``.

wikinews-de articles are embedded through Ray and compared with the local
embedding path: on a ``local`` cluster of one CPU; then on a real three-node
cluster (a head and two one-CPU worker nodes on 127.0.0.1) joined by its
address, undisturbed; joined as ``auto`` with one worker node killed for
good once the first results are back (its unfinished batches must be retried on
the survivor); and ``news-search rebuild --ray HOST:PORT`` against a local
rebuild of the same files (same shards and articles, vectors within 1e-5, same
results, the same reading summary), each file read and each shard built by a task
on a worker node: once undisturbed, once with the node building the largest shard
killed meanwhile. Prints one line per scenario;
exits non-zero on the first mismatch.

``python -m tests.cluster serving`` runs ``serve --ray`` on such a cluster instead
(``serving_scenario``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.cluster import (
    CORPUS,
    LOOPBACK,
    corpus_sample,
    kill_node,
    local_cluster,
    serving_index,
    whole_again,
)
from bench.serving import server
from search.cluster.building import BUILDING_DIR, NODE_CHARS
from search.cluster.connect import connect
from search.cluster.embedding import embed_on_cluster
from search.engine import Engine
from search.ingest.article import Article
from search.ingest.indexing import BATCH_ARTICLES, batches, embed_articles
from search.ingest.passages import PassageSettings
from search.semantic.embedders import DEFAULT_MODEL, UniversalSentenceEncoder

TOLERANCE = 1e-5
WORKERS = 2
LOCAL_ARTICLES = 20
# Small batches in the node-loss case, so most of them are still to do when a node dies.
LOSS_BATCH = 8
# The serving scenario: a shard a year, a few dozen articles each.
SERVE_YEARS = ("2005", "2006", "2007")
SERVE_PER_YEAR = 40
RECOVERY_SECONDS = 60
# A rebuild of the sample whose shard building loses a node (Ray notices in seconds).
LOSS_REBUILD_SECONDS = 120
API_KEY = "cluster-scenario-key"

Pairs = list[tuple[Article, np.ndarray]]


def local_vectors(articles: list[Article], settings: PassageSettings) -> dict[str, np.ndarray]:
    """The passage vectors as a local rebuild computes them (batches of one process)."""
    embedder = UniversalSentenceEncoder()
    vectors: dict[str, np.ndarray] = {}
    for batch in batches(articles, BATCH_ARTICLES):
        for article, matrix in zip(batch, embed_articles(batch, embedder, settings), strict=True):
            vectors[article.id] = matrix
    return vectors


def compare(articles: list[Article], expected: dict[str, np.ndarray], received: Pairs) -> str:
    """What differs between the cluster's pairs and the local vectors ('' when nothing)."""
    counts = Counter(article.id for article, _ in received)
    if twice := sorted(i for i, n in counts.items() if n > 1):
        return f"{len(twice)} article(s) came back more than once, e.g. {twice[0]}"
    if missing := sorted({a.id for a in articles} - set(counts)):
        return f"{len(missing)} article(s) never came back, e.g. {missing[0]}"
    originals = {article.id: article for article in articles}
    for article, matrix in received:
        if article != originals[article.id]:
            return f"{article.id}: the article came back changed"
        local = expected[article.id]
        if matrix.shape != local.shape or matrix.dtype != local.dtype:
            return f"{article.id}: {matrix.shape} {matrix.dtype} against {local.shape}"
        if (worst := float(np.abs(matrix - local).max(initial=0.0))) > TOLERANCE:
            return f"{article.id}: vectors differ by {worst:.2e}"
    return ""


def compare_indexes(local: Path, clustered: Path, queries: list[str]) -> str:
    """What differs between two indexes of the same articles ('' when nothing)."""
    one, other = Engine(local), Engine(clustered)
    for key in ("articles", "passage_count", "shards"):
        if one.stats()[key] != other.stats()[key]:
            return f"{key}: {one.stats()[key]} against {other.stats()[key]}"
    mine, theirs = one._current().vectors, other._current().vectors
    for article_id in sorted(mine.ids()):
        worst = float(np.abs(mine.vectors_of(article_id) - theirs.vectors_of(article_id)).max())
        if worst > TOLERANCE:
            return f"{article_id}: stored vectors differ by {worst:.2e}"
    for query in queries:
        for mode in ("lexical", "semantic", "hybrid"):
            hits = [one.search(query, mode=mode).hits, other.search(query, mode=mode).hits]
            if [h.id for h in hits[0]] != [h.id for h in hits[1]]:
                return f"{mode} search for {query!r}: another order of hits"
            if any(abs(a.score - b.score) > TOLERANCE for a, b in zip(*hits, strict=True)):
                return f"{mode} search for {query!r}: other scores"
    return ""


def _timed(pairs: Iterator[tuple[Article, np.ndarray]]) -> tuple[Pairs, float]:
    started = time.perf_counter()
    collected = list(pairs)
    return collected, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=200)
    args = parser.parse_args()
    settings = PassageSettings()
    articles = corpus_sample(args.articles)
    expected = local_vectors(articles, settings)

    def check(name: str, subset: list[Article], pairs: Pairs, detail: Callable[[], str]) -> bool:
        problem = compare(subset, expected, pairs)
        print(f"{name}: FAILED: {problem}" if problem else f"{name}: {detail()}", flush=True)
        return not problem

    few = articles[:LOCAL_ARTICLES]
    with connect("local", num_cpus=1):
        pairs, seconds = _timed(embed_on_cluster(few, DEFAULT_MODEL, settings, workers=1))
    if not check("local", few, pairs, lambda: f"{len(pairs)} articles equal in {seconds:.1f} s"):
        return 1

    with local_cluster(WORKERS) as cluster:
        with connect(cluster.address):
            run = embed_on_cluster(articles, DEFAULT_MODEL, settings, workers=WORKERS)
            pairs, seconds = _timed(run)

        def equal() -> str:
            worst = max(float(np.abs(m - expected[a.id]).max(initial=0.0)) for a, m in pairs)
            return f"{len(pairs)} articles in {seconds:.1f} s, largest difference {worst:.1e}"

        if not check("equal", articles, pairs, equal):
            return 1

        with connect("auto"):
            started = time.perf_counter()
            pairs = []
            victim = next(iter(cluster.worker_nodes))
            for pair in embed_on_cluster(
                articles, DEFAULT_MODEL, settings, workers=WORKERS, batch_articles=LOSS_BATCH
            ):
                pairs.append(pair)
                if victim is not None:
                    cluster.remove_node(victim, allow_graceful=False)
                    victim = None
            seconds = time.perf_counter() - started
        detail = (
            f"a worker node killed when 1 of {len(articles)} articles had come back; "
            f"all came back once, equal, in {seconds:.1f} s"
        )
        if not check("node loss", articles, pairs, lambda: detail):
            return 1
        return rebuild_scenario(articles, cluster)


def rebuild_scenario(articles: list[Article], cluster: Any) -> int:
    """``rebuild --ray`` through the CLI, in a process of its own, against a local
    rebuild of the same source files: on two worker nodes, each file read and each
    shard built by a task on one of them; then again with the node building the
    largest shard killed meanwhile (its task must run again on the other)."""
    cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)  # the lost one's successor
    cluster.wait_for_nodes()
    workers = {node.node_id[:NODE_CHARS]: node for node in cluster.worker_nodes}
    folder = Path(tempfile.mkdtemp(prefix="rebuild-"))
    source = _source_files(folder / "sources", len(articles))
    _engine, local = Engine.rebuild([source], folder / "local", shard_by="year")
    queries = [article.title for article in articles[:: max(1, len(articles) // 20)]]
    started = time.perf_counter()
    done = subprocess.run(
        _rebuild_command(source, folder / "ray", cluster.address),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if problem := _rebuilt(done, folder / "local", folder / "ray", queries):
        print(f"rebuild: FAILED: {problem}", flush=True)
        return 1
    if local.read.table() not in done.stderr:
        print(f"rebuild: FAILED: not the local reading summary: {done.stderr}", flush=True)
        return 1
    readers, builders = _ran_on(done.stderr, "read "), _ran_on(done.stderr, "built ")
    for what, nodes in (("files not read", readers), ("shards not built", builders)):
        if not nodes or not nodes <= set(workers):
            print(f"rebuild: FAILED: {what} on the worker nodes: {done.stderr}", flush=True)
            return 1
    print(
        f"rebuild: --ray {cluster.address} in {seconds:.1f} s equals the local rebuild; "
        f"its {len(list(source.iterdir()))} files read by tasks on {len(readers)} and its "
        f"shards built by tasks on {len(builders)} worker node(s)",
        flush=True,
    )
    return _shard_node_loss(cluster, workers, source, folder, queries)


def _shard_node_loss(
    cluster: Any, workers: dict[str, Any], source: Path, folder: Path, queries: list[str]
) -> int:
    """``rebuild --ray`` with the node building the largest shard killed meanwhile."""
    shards = Engine(folder / "local").stats()["shards"]
    largest = max(shards, key=lambda shard: shard["articles"])["name"]
    index = folder / "ray-loss"
    command = _rebuild_command(source, index, cluster.address)
    log = folder / "ray-loss.log"  # a file, not a pipe: nobody reads it until the end
    with log.open("w", encoding="utf-8") as output:
        run = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        attempt = None
        while attempt is None and run.poll() is None:
            attempt = next(index.glob(f"*/{BUILDING_DIR}/{largest}.*"), None)
            time.sleep(0.02)
        if attempt is not None:
            kill_node(cluster, workers[attempt.name.split(".")[1]])
        run.wait(timeout=LOSS_REBUILD_SECONDS)
    stderr = log.read_text(encoding="utf-8")
    done = subprocess.CompletedProcess(command, run.returncode, "", stderr)
    if attempt is None:
        print(f"shard node loss: FAILED: no attempt at shard {largest} seen", flush=True)
        return 1
    if problem := _rebuilt(done, folder / "local", index, queries):
        print(f"shard node loss: FAILED: {problem}", flush=True)
        return 1
    lost = attempt.name.split(".")[1]
    survivor = next(iter(set(workers) - {lost}))
    rebuilt = f"shard {largest}: an attempt on {lost} was lost; built again on {survivor}"
    if rebuilt not in stderr:
        print(f"shard node loss: FAILED: no line {rebuilt!r}: {stderr}", flush=True)
        return 1
    print(
        f"shard node loss: node {lost} killed while building shard {largest}; the task ran "
        f"again on {survivor} and the index equals the local rebuild",
        flush=True,
    )
    return 0


def _rebuild_command(source: Path, index: Path, address: str) -> list[str]:
    command = [sys.executable, "-m", "search", "rebuild", str(source), "--shard-by", "year"]
    return [*command, "--index", str(index), "--ray", address]


def _rebuilt(
    done: subprocess.CompletedProcess[str], local: Path, index: Path, queries: list[str]
) -> str:
    """What is wrong with a ``rebuild --ray`` run and its index ('' when nothing)."""
    if done.returncode:
        return f"exit {done.returncode}: {done.stderr[-2000:]}"
    return compare_indexes(local, index, queries)


def _source_files(folder: Path, count: int) -> Path:
    """The first ``count`` articles of the corpus in four files of ``folder``: three
    JSONL files and one JSON array, read in name order."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:count]
    folder.mkdir()
    for part in range(4):
        chunk = lines[part * count // 4 : (part + 1) * count // 4]
        if part == 2:
            text = json.dumps([json.loads(line) for line in chunk], ensure_ascii=False)
            (folder / f"part-{part}.json").write_text(text, encoding="utf-8")
        else:
            (folder / f"part-{part}.jsonl").write_text("\n".join(chunk) + "\n", encoding="utf-8")
    return folder


def _ran_on(progress: str, start: str) -> set[str]:
    """The nodes (short ids) the rebuild's progress line beginning ``start`` names
    ("read 4 file(s) on 2 node(s) (3 on abcd1234, 1 on ...)")."""
    line = next((x for x in progress.splitlines() if x.startswith(start)), "")
    counts = line.partition(" (")[2].rstrip(")").split(", ")
    return {count.rpartition(" on ")[2] for count in counts if " on " in count}


def serving_scenario() -> int:
    """``serve --ray HOST:PORT`` against local search: the same pages with every shard;
    a worker node killed (the server keeps answering, and within ``RECOVERY_SECONDS``
    with every shard again); then an article added through the API is found."""
    folder = Path(tempfile.mkdtemp(prefix="serve-"))
    built = serving_index(folder, SERVE_YEARS, SERVE_PER_YEAR)
    local = Engine(built.index)
    expected = {q: [hit.id for hit in local.search(q).hits] for q in built.queries}
    del local
    key = folder / "key"
    key.write_text(API_KEY + "\n", encoding="utf-8")
    with local_cluster(WORKERS) as cluster:
        options = ("--ray", cluster.address, "--api-key-file", str(key))
        with (
            server(built.index, folder / "serve.log", *options) as (base, _pid),
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            log = (folder / "serve.log").read_text(encoding="utf-8").splitlines()
            print(f"serve: {next(line for line in log if 'serving' in line)}", flush=True)
            if problem := _same_pages(client, expected):
                print(f"serve: FAILED: {problem}", flush=True)
                return 1
            print(f"serve: {len(expected)} queries, every shard, the local top 10", flush=True)
            kill_node(cluster, next(iter(cluster.worker_nodes)))
            query = built.queries[0]
            loss = whole_again(
                lambda: _search(client, query)["shards"]["failed"], RECOVERY_SECONDS, 3.0
            )
            if not loss.worst or loss.whole_after is None:
                print(f"node loss: FAILED: {loss}", flush=True)
                return 1
            print(
                f"node loss: {loss.pages} pages answered, up to {loss.worst} shard(s) "
                f"failed; every shard again {loss.whole_after:.1f} s after the kill",
                flush=True,
            )
            if problem := _same_pages(client, expected):
                print(f"node loss: FAILED after recovery: {problem}", flush=True)
                return 1
            return _added(client, built.later)


def _search(client: httpx.Client, query: str) -> dict[str, Any]:
    answer = client.get("/search", params={"q": query, "limit": 10})
    if answer.status_code != 200:
        raise AssertionError(f"{query!r}: HTTP {answer.status_code}: {answer.text[:300]}")
    return answer.json()


def _same_pages(client: httpx.Client, expected: dict[str, list[str]]) -> str:
    """What differs from the local pages ('' when nothing); every shard must answer."""
    for query, ids in expected.items():
        page = _search(client, query)
        if page["shards"]["failed"]:
            return f"{query!r}: {page['shards']}"
        if [hit["id"] for hit in page["hits"]] != ids:
            return f"{query!r}: another top 10 than local search"
    return ""


def _added(client: httpx.Client, article: dict[str, Any]) -> int:
    """An article of a year the index did not hold (a new shard), added through the API,
    is the first hit for its title, with every shard answering."""
    started = time.perf_counter()
    answer = client.post("/articles", json=article, headers={"X-API-Key": API_KEY})
    if answer.status_code != 200:
        print(f"add: FAILED: HTTP {answer.status_code}: {answer.text[:300]}", flush=True)
        return 1
    seconds = time.perf_counter() - started
    page = _search(client, article["title"])
    top = page["hits"][0]["id"] if page["hits"] else None
    if top != article["id"] or page["shards"]["failed"]:
        print(f"add: FAILED: first hit {top!r}, shards {page['shards']}", flush=True)
        return 1
    print(
        f"add: {article['id']} written in {seconds:.1f} s, found first over "
        f"{page['shards']['total']} shards",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(serving_scenario() if sys.argv[1:] == ["serving"] else main())
