"""Per-query latency on a real archive: the judged dev queries over HTTP against a warm
server, beside the same engine in-process and the naive pipeline, in one run.

    python -m bench.dev_http --corpus ../shared/corpora/10kgnad/articles.jsonl \\
        --queries ../shared/queries/10kgnad-dev.jsonl --out bench/out/dev-http

Each query runs ``--repeat`` times per mode, one request at a time (every request
asks for facets, as the page does). The naive pipeline (Whoosh BM25F, an exact
scan of every passage, RRF) has no server, so it is timed in-process: the ratio
to compare is in-process to in-process; HTTP adds the server's own cost.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import quote

import httpx

from bench.measure import Result
from bench.peers import build_naive
from bench.phases import _latencies, query_naive
from bench.serving import REQUEST_TIMEOUT, server
from search.engine import Engine
from search.evaluate import load_queries
from search.retrieval.results import MODES

# Embedding for the naive index is timed on a sample; the rest of its vectors are
# the engine's own (the same passages, the same model).
NAIVE_EMBEDDED = 50


def _http(index: Path, queries: list[str], repeat: int, log: Path) -> Result:
    with (
        server(index, log) as (base, _pid),
        httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client,
    ):
        return {
            mode: _latencies(
                lambda q, m=mode: client.get(f"/search?q={quote(q)}&mode={m}").raise_for_status(),
                queries,
                repeat,
            )
            for mode in MODES
        }


def _in_process(index: Path, queries: list[str], repeat: int) -> Result:
    engine = Engine(index)
    engine.embedder.encode(["warm-up"])
    return {
        mode: _latencies(lambda q, m=mode: engine.search(q, mode=m, facets=True), queries, repeat)
        for mode in MODES
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--index", type=Path, help="an index of the corpus (else built)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    index = args.index or args.out / "index"
    if args.index is None:
        Engine.rebuild([args.corpus], index)
    naive = args.out / "naive"
    if not (naive / "lexical").exists():
        build_naive(args.corpus, naive, embed_limit=NAIVE_EMBEDDED, copy_from=index)
    queries = [q.text for q in load_queries(args.queries)]
    results: Result = {
        "http": _http(index, queries, args.repeat, args.out / "server.log"),
        "in_process": _in_process(index, queries, args.repeat),
        "naive_in_process": query_naive(naive, queries, args.repeat),
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(
        "| mode | HTTP p50 | HTTP p95 | in-process p50 | in-process p95 | naive p50 | naive p95 |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode in MODES:
        http, ours, naive_ = (results[k][mode] for k in ("http", "in_process", "naive_in_process"))
        print(
            f"| {mode} | {http['p50']} | {http['p95']} | {ours['p50']} | {ours['p95']} "
            f"| {naive_['p50']} | {naive_['p95']} |"
        )


if __name__ == "__main__":
    main()
