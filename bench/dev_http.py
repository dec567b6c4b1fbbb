"""Per-query latency on a real archive: the judged dev queries over HTTP against a warm
server, beside the same engine in-process and the naive pipeline, in one run.

    python -m bench.dev_http --corpus ../shared/corpora/10kgnad/articles.jsonl \\
        --queries ../shared/queries/10kgnad-dev.jsonl --out bench/out/dev-http \\
        [--before ../main-checkout]

Each query runs ``--repeat`` times per mode, one request at a time (every request
asks for facets, as the page does). The contenders take turns query by query, so
a machine busy with other work slows them alike and their ratios hold. The naive
pipeline (Whoosh BM25F, an exact scan of every passage, RRF) has no server, so it
is timed in-process: the ratio to compare is in-process to in-process; HTTP adds
the server's own cost. ``--before`` names a checkout of an earlier version of the
project, whose server is measured over HTTP beside this one's (same index).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx

from bench.measure import Result, percentiles
from bench.peers import NaiveSearch, build_naive
from bench.serving import REQUEST_TIMEOUT, server
from search.engine import Engine
from search.evaluate import load_queries
from search.retrieval.results import MODES

# Embedding for the naive index is timed on a sample; the rest of its vectors are
# the engine's own (the same passages, the same model).
NAIVE_EMBEDDED = 50
WARM_UP = 5

Call = Callable[[str, str], object]  # (query, mode) -> anything


def _over_http(client: httpx.Client) -> Call:
    return lambda q, m: client.get(f"/search?q={quote(q)}&mode={m}").raise_for_status()


def _naive(naive: NaiveSearch) -> Call:
    sides = {"lexical": naive.lexical, "semantic": naive.semantic, "hybrid": naive.hybrid}
    return lambda q, m: sides[m](q)


def _interleaved(contenders: dict[str, Call], queries: list[str], repeat: int) -> Result:
    """Latency percentiles per contender and mode, each query run by every contender in turn."""
    times: dict[str, dict[str, list[float]]] = {c: {m: [] for m in MODES} for c in contenders}
    names = list(contenders)
    for mode in MODES:
        for query in queries[:WARM_UP]:  # warm caches and lazy loads before timing
            for call in contenders.values():
                call(query, mode)
        for _ in range(repeat):
            for i, query in enumerate(queries):
                # Each contender goes first as often as the others: one that leaves
                # threads spinning after it slows whoever follows, not always the same.
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    started = time.perf_counter()
                    contenders[name](query, mode)
                    times[name][mode].append(time.perf_counter() - started)
    return {c: {m: percentiles(times[c][m]) for m in MODES} for c in contenders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--index", type=Path, help="an index of the corpus (else built)")
    parser.add_argument("--before", type=Path, help="a checkout of an earlier version")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    index = args.index or args.out / "index"
    if args.index is None:
        Engine.rebuild([args.corpus], index)
    naive = args.out / "naive"
    if not (naive / "vectors.json").exists():
        build_naive(args.corpus, naive, embed_limit=NAIVE_EMBEDDED, copy_from=index)
    queries = [q.text for q in load_queries(args.queries)]
    engine = Engine(index)
    engine.embedder.encode(["warm-up"])
    with contextlib.ExitStack() as stack:
        contenders: dict[str, Call] = {}
        versions = {"http": None} | ({"before_http": args.before} if args.before else {})
        for name, source in versions.items():
            base, _pid = stack.enter_context(server(index, args.out / f"{name}.log", source=source))
            client = stack.enter_context(httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT))
            contenders[name] = _over_http(client)
        contenders["in_process"] = lambda q, m: engine.search(q, mode=m, facets=True)  # type: ignore[arg-type]
        contenders["naive_in_process"] = _naive(NaiveSearch(naive))
        results = _interleaved(contenders, queries, args.repeat)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    names = list(results)
    print("| mode | " + " | ".join(f"{n} p50 | {n} p95" for n in names) + " |")
    print("|---|" + "---|---|" * len(names))
    for mode in MODES:
        cells = " | ".join(f"{results[n][mode]['p50']} | {results[n][mode]['p95']}" for n in names)
        print(f"| {mode} | {cells} |")


if __name__ == "__main__":
    main()
