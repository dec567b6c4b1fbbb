"""Shards at scale: yearly shards against one shard, side by side in one run.

    nice -n 10 python -m bench.shards --articles 100000 --real 10000 --out bench/out/shards \
        --plot docs/benchmarks-shards.png

1. ``--real`` generated articles over ten years are embedded for real (yearly shards
   of that size are exact, so their vectors are the model's own): the recall@10 of
   the graph index a large shard gets (HNSW over 8-bit codes) against exact search,
   on those vectors, with the judged dev queries and passages as probes.
2. ``--articles`` generated articles over ten years are built twice, in yearly
   shards and in one shard, with vectors replayed from step 1 (``bench.synthetic``:
   the lexical side is real, the vectors are real vectors reused, so latency and
   memory hold and semantic rankings mean nothing).
3. On each: one-article adds (seconds, and bytes of new files: those not hard links
   of the previous generation), query latency over HTTP, hybrid requests/s with
   1, 2, 4 and 8 clients for ``--workers 1`` and ``--workers 2``, and the serving
   memory (proportional set size summed over the server's processes, so pages the
   workers share count once).

Steps whose output exists are not redone; ``--reuse`` takes an earlier run's
embedded articles, indexes and results (the indexes as hard links: a write never
changes a file in place, so the earlier run's stay as they were) and ``--redo``
drops the named steps' results so they run again, on the reused indexes:

    nice -n 10 python -m bench.shards --out /work/bench-shards-new \
        --reuse /work/bench-shards --redo add

Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil

from bench.generate import write as generate
from bench.measure import MB, Result, percentiles
from bench.run import load_queries
from bench.serving import REQUEST_TIMEOUT, _concurrent, _latencies, _search_path, server
from bench.synthetic import build_synthetic, vector_pool
from search.engine import Engine
from search.ingest.article import Article
from search.retrieval.filters import Filters
from search.semantic.embedders import UniversalSentenceEncoder, embed_query
from search.semantic.vectors import VectorIndex
from search.storage.folder import LOCK_FILE

TEN_YEARS = 3653
LAYOUTS = ("year", "none")
CLIENTS = (1, 2, 4, 8)
ADDS = 3


def recall(index: Path, queries: list[str], probes: int = 200) -> Result:
    """Recall@10 (articles) of one graph index over every vector of ``index`` against
    exact search over the same vectors."""
    vectors = Engine(index)._current().vectors
    ids = sorted(vectors.ids())
    exact, graph = VectorIndex(vectors.dim), VectorIndex(vectors.dim)
    for article_id in ids:
        matrix = vectors.vectors_of(article_id)
        exact.add(article_id, matrix)
        graph.add(article_id, matrix)
    started = time.perf_counter()
    graph.optimize(exact_max=0)
    built = time.perf_counter() - started
    model = UniversalSentenceEncoder()
    rng = np.random.default_rng(0)
    passages = [vectors.vectors_of(ids[i])[0] for i in rng.choice(len(ids), probes, False)]
    asked = [embed_query(model, q) for q in queries] + passages
    found = []
    for vector in asked:
        truth = {h.article_id for h in exact.search(vector, 10)}
        found.append(len(truth & {h.article_id for h in graph.search(vector, 10)}) / 10)
    return {
        "articles": len(ids),
        "passages": exact.passage_count,
        "recall_at_10": round(float(np.mean(found)), 4),
        "probes": len(asked),
        "graph_build_s": round(built, 1),
        "bytes_per_vector": {
            "exact": 4 * vectors.dim,
            "graph": faiss.serialize_index(graph._index).size // max(graph.passage_count, 1),
        },
    }


def _new_bytes(before: Path, after: Path) -> int:
    """Bytes of the files of ``after`` that are not hard links of ``before``'s."""
    total = 0
    for path in after.rglob("*"):
        if path.is_file():
            old = before / path.relative_to(after)
            if not (old.exists() and os.path.samefile(old, path)):
                total += path.stat().st_size
    return total


def adds(index: Path) -> Result:
    """``ADDS`` one-article adds, each dated in the last year: seconds and bytes written.

    A first add is reported apart: it loads the model, and it is the write that
    stores the neighbour table and stories per shard in an index built before
    schema 5 (every shard's, once).
    """
    engine = Engine(index)
    seconds, written = [], []
    for n in range(ADDS + 1):
        before = engine.folder.current()
        lease = engine.folder.lease(before.name)  # keeps it on disk to compare with
        article = Article(
            id=f"added-{n}-{time.time_ns()}",
            title=f"Nachtrag {n}",
            body="Ein kurzer Bericht über die Lage in Wien und Graz. " * 20,
            date="2025-05-20",
        )
        started = time.perf_counter()
        engine.write([article])
        seconds.append(time.perf_counter() - started)
        written.append(_new_bytes(before, engine.folder.current()))
        assert lease is not None
        lease.release()
    size = sum(p.stat().st_size for p in engine.folder.current().rglob("*") if p.is_file())
    return {
        "seconds": round(statistics.median(seconds[1:]), 2),
        "bytes_written": int(statistics.median(written[1:])),
        "first_seconds": round(seconds[0], 2),
        "first_bytes_written": written[0],
        "index_bytes": size,
    }


def reuse(earlier: Path, out: Path, articles: int, real: int) -> None:
    """Take what ``earlier`` (another run's ``--out``) built, as hard links, and its
    results."""
    for name in (f"real-{real}", f"idx-{LAYOUTS[0]}", f"idx-{LAYOUTS[1]}"):
        if not (out / name).exists():
            # Lock files are left out: a link would share the lock (and its record).
            skip = shutil.ignore_patterns(LOCK_FILE, "*LOCK")
            shutil.copytree(earlier / name, out / name, copy_function=os.link, ignore=skip)
    for name in (f"articles-{real}.jsonl", f"articles-{articles}.jsonl"):
        if not (out / name).exists():
            os.link(earlier / name, out / name)
    results = out / f"results-{articles}.json"
    if not results.exists():
        shutil.copyfile(earlier / results.name, results)


def fan_out(index: Path, queries: list[str]) -> Result:
    """In-process hybrid latency over every shard and with a one-year filter (one shard
    searched, the rest skipped): the difference is what a shard costs a query."""
    engine = Engine(index)
    year = Filters.parse(date_from="2020", date_to="2020")
    result: Result = {}
    for label, filters in (("all", None), ("one_year", year)):
        for query in queries[:10]:
            engine.search(query, filters=filters)  # warm
        times = []
        for query in queries:
            started = time.perf_counter()
            page = engine.search(query, filters=filters)
            times.append(time.perf_counter() - started)
        result[label] = {**percentiles(times), "searched": page.shards.successful}
    searched = result["all"]["searched"] - result["one_year"]["searched"]
    result["ms_per_shard"] = round(
        (result["all"]["mean"] - result["one_year"]["mean"]) / max(searched, 1), 2
    )
    return result


def _serving_mb(pid: int) -> float:
    """Proportional set size of a server and its workers: shared pages count once."""
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return round(sum(p.memory_full_info().pss for p in processes) / MB, 1)


def _warm(base: str, paths: list[str], clients: int) -> None:
    """Every path on each of ``clients`` connections, each from its own offset.

    A connection stays with the worker that accepted it and each worker has caches of
    its own, so every worker holding a connection sees every query, as the latency
    runs warm the single worker. (Split over the connections, a worker would see only
    its connections' share, and a one-client run would then meet cold queries.)
    """
    import httpx

    def work(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
            for n in range(len(paths)):
                client.get(paths[(offset + n) % len(paths)]).raise_for_status()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def serve(index: Path, queries: list[str], workers: int, seconds: float, log: Path) -> Result:
    """Latency per mode, then hybrid requests/s per client count, then memory."""
    import httpx

    with (
        server(index, log, "--workers", str(workers)) as (base, pid),
        httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client,
    ):
        result: Result = {"workers": workers}
        if workers == 1:
            for mode in ("lexical", "hybrid"):
                result[mode] = _latencies(client, [_search_path(q, mode) for q in queries], 2)
        hybrid = [_search_path(q, "hybrid") for q in queries]
        _warm(base, hybrid, max(CLIENTS))
        result["concurrent"] = [_concurrent(base, hybrid, n, seconds) for n in CLIENTS]
        result["memory_mb"] = _serving_mb(pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--real", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/shards"))
    parser.add_argument("--seconds", type=float, default=15.0, help="per throughput run")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--reuse", type=Path, help="an earlier run's --out to start from")
    parser.add_argument(
        "--redo",
        nargs="*",
        default=[],
        help="steps to measure again, as their results are named up to the first dash "
        "(add, fan, serve)",
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.reuse:
        reuse(args.reuse, out, args.articles, args.real)
    results_path = out / f"results-{args.articles}.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    results = {k: v for k, v in results.items() if k.split("-")[0] not in args.redo}

    def save() -> None:
        results_path.write_text(json.dumps(results, indent=1) + "\n")

    def step(name: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {name}", file=sys.stderr, flush=True)

    queries = load_queries()
    real = out / f"real-{args.real}"
    if not (real / "CURRENT").exists():
        step(f"embedding {args.real} articles")
        source = generate(args.real, out / f"articles-{args.real}.jsonl", days=TEN_YEARS)
        Engine.rebuild([source], real, shard_by="year")
    if "recall" not in results:
        step("recall")
        results["recall"] = recall(real, queries)
        save()
    source = out / f"articles-{args.articles}.jsonl"
    if not source.exists():
        generate(args.articles, source, days=TEN_YEARS)
    vector_pool(real)  # fails early, before an hour of building, if the pool is unreadable
    missing = [by for by in LAYOUTS if f"build-{by}" not in results]
    if missing:
        step(f"building {', '.join(missing)} (in parallel)")
        with ProcessPoolExecutor(len(missing)) as pool:
            futures = {
                by: pool.submit(build_synthetic, source, real, out / f"idx-{by}", by)
                for by in missing
            }
            for by, future in futures.items():
                results[f"build-{by}"] = future.result()
        save()
    for by in LAYOUTS:
        if f"add-{by}" not in results:
            step(f"adds, {by}")
            results[f"add-{by}"] = adds(out / f"idx-{by}")
            save()
    if "fan-out" not in results:
        step("fan-out")
        results["fan-out"] = fan_out(out / "idx-year", queries)
        save()
    for by, workers in (("none", 1), ("year", 1), ("year", 2)):
        key = f"serve-{by}-{workers}"
        if key not in results:
            step(f"serving {by} with {workers} worker(s)")
            log = out / f"{key}.log"
            results[key] = serve(out / f"idx-{by}", queries, workers, args.seconds, log)
            save()
    print(table(results))
    if args.plot:
        plot(results, args.plot)


def table(results: dict[str, Any]) -> str:
    """The markdown tables of a run."""
    r = results["recall"]
    lines = [
        f"Recall@10 of a graph shard (HNSW over 8-bit codes) against exact search: "
        f"**{r['recall_at_10']}** over {r['probes']} probes, {r['articles']:,} real "
        f"articles ({r['passages']:,} passages); bytes per vector "
        f"{r['bytes_per_vector']['exact']} exact, {r['bytes_per_vector']['graph']} graph.",
        "",
        "| | one shard | yearly shards | ratio |",
        "|---|---|---|---|",
    ]

    def row(label: str, one: float, many: float, unit: str = "") -> None:
        ratio = f"{many / one:.3f}" if one else "-"
        lines.append(f"| {label} | {one:,}{unit} | {many:,}{unit} | {ratio} |")

    for key, label in (("shards", "shards"), ("seconds", "build s"), ("index_mb", "index MB")):
        row(label, results["build-none"][key], results["build-year"][key])
    row("one-article add, s", results["add-none"]["seconds"], results["add-year"]["seconds"])
    row(
        "one-article add, bytes written",
        results["add-none"]["bytes_written"],
        results["add-year"]["bytes_written"],
    )
    one, many = results["serve-none-1"], results["serve-year-1"]
    for mode in ("lexical", "hybrid"):
        for p in ("p50", "p95"):
            row(f"{mode} {p} ms (HTTP, 1 worker)", one[mode][p], many[mode][p])
    row("serving memory MB (1 worker)", one["memory_mb"], many["memory_mb"])
    fan = results["fan-out"]
    lines += [
        "",
        f"In-process hybrid, yearly shards: mean {fan['all']['mean']} ms over "
        f"{fan['all']['searched']} shards, {fan['one_year']['mean']} ms with a one-year "
        f"filter ({fan['one_year']['searched']} searched, the rest skipped): "
        f"{fan['ms_per_shard']} ms per shard searched.",
    ]
    lines += [
        "",
        "Hybrid requests/s, yearly shards:",
        "",
        "| clients | --workers 1 | --workers 2 | ratio |",
        "|---|---|---|---|",
    ]
    w1, w2 = results["serve-year-1"]["concurrent"], results["serve-year-2"]["concurrent"]
    for a, b in zip(w1, w2, strict=True):
        ratio = b["requests_per_s"] / a["requests_per_s"]
        lines.append(
            f"| {a['clients']} | {a['requests_per_s']} | {b['requests_per_s']} | {ratio:.2f} |"
        )
    lines.append(
        f"| memory MB (PSS, all processes) | {results['serve-year-1']['memory_mb']} "
        f"| {results['serve-year-2']['memory_mb']} | |"
    )
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """Hybrid requests/s by clients, one line per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for workers in (1, 2):
        runs = results[f"serve-year-{workers}"]["concurrent"]
        axes.plot(
            [r["clients"] for r in runs],
            [r["requests_per_s"] for r in runs],
            marker="o",
            label=f"--workers {workers}",
        )
    axes.set_xlabel("clients")
    axes.set_ylabel("hybrid requests/s")
    axes.set_title(f"{results['build-year']['articles']:,} articles, yearly shards")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
