"""Speed and scale benchmark: our engine beside tantivy and a naive pipeline, one run.

    nice -n 10 python -m bench.run --sizes 10000 --plot docs/benchmarks.png
    python -m bench.run --quick          # 1k short articles, under a minute, for CI

For each archive size it generates the articles (``bench.generate``), then runs
every phase in its own process (``bench.measure.run_phase``): the engine's rebuild;
the lexical side alone (Whoosh with one process and with its multi-process writer);
the model's embedding-only throughput with one model per core (the ceiling of a
rebuild); the naive pipeline, whose embedding step is the model's throughput in one
process; tantivy; query latency in-process for all three; and latency and
throughput over HTTP against ``news-search serve``. Results are merged into
``OUT/results-N.json`` as each phase ends, so ``--phases`` can re-run some phases
and keep the rest. Nothing here asserts on time: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench import phases, serving
from bench.generate import write as generate
from bench.measure import Result, run_phase
from bench.report import markdown, plot
from bench.synthetic import build_synthetic

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO.parent / "shared" / "queries" / "10kgnad-dev.jsonl"
PHASES = ("rebuild", "lexical", "ceiling", "naive", "tantivy", "query", "http")
QUICK_MAX_CHARS = 200


def load_queries(path: Path = QUERIES) -> list[str]:
    """The 120 hand-written 10kGNAD queries (German and English, keywords and questions)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["query"] for line in handle if line.strip()]


def _save(path: Path, results: Result) -> None:
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")


def run_size(args: argparse.Namespace, size: int, queries: list[str]) -> Result:
    """Run the selected phases for one archive size, merging into its results file."""
    out: Path = args.out
    source = out / f"articles-{size}{'-short' if args.quick else ''}.jsonl"
    if not source.exists():
        generate(size, source, max_chars=QUICK_MAX_CHARS if args.quick else None)
    folder = out / "idx" / f"{size}{'-quick' if args.quick else ''}"
    path = out / f"results-{size}{'-quick' if args.quick else ''}.json"
    results: Result = json.loads(path.read_text()) if path.exists() else {}
    results.update(size=size, quick=args.quick, source=str(source))
    similar_ids = phases.sample_ids(source, args.similar)
    ceiling = min(args.ceiling_articles or size, size)

    def phase(key: str, target: Any, *targs: Any) -> None:
        print(f"[{size}] {key} ...", file=sys.stderr, flush=True)
        results[key] = run_phase(target, *targs)
        _save(path, results)

    selected = set(args.phases)
    if "rebuild" in selected:
        phase("rebuild", phases.rebuild, source, folder / "ours")
    if "lexical" in selected:
        for procs in args.lexical_procs:
            target = folder / f"lexical-{procs}"
            phase(f"lexical_{procs}", phases.lexical_only, source, target, procs)
    if "ceiling" in selected:
        phase("ceiling", phases.embed_only, source, ceiling, True)
    if "naive" in selected:
        naive_embed = min(args.naive_articles or size, size)
        phase("naive", phases.naive_build, source, folder / "naive", naive_embed, folder / "ours")
    if "tantivy" in selected:
        phase("tantivy", phases.tantivy_build, source, folder / "tantivy")
    if "query" in selected:
        repeat = args.repeat
        phase("query_ours", phases.query_ours, folder / "ours", queries, similar_ids, repeat)
        phase("recall", phases.vector_recall, folder / "ours", queries, similar_ids)
        phase("query_naive", phases.query_naive, folder / "naive", queries, repeat)
        phase("query_tantivy", phases.query_tantivy, folder / "tantivy", queries, repeat)
    if "http" in selected:
        print(f"[{size}] http ...", file=sys.stderr, flush=True)
        results["http"] = _http(args, folder / "ours", queries, similar_ids, f"serve-{size}.log")
        _save(path, results)
    return results


def _http(
    args: argparse.Namespace, index: Path, queries: list[str], similar_ids: list[str], log: str
) -> Result:
    """The HTTP phase: ``news-search serve`` on ``index``, latencies and throughput."""
    return serving.measure(
        index,
        queries,
        similar_ids,
        args.repeat,
        tuple(args.clients),
        args.http_seconds,
        args.out / log,
    )


def run_synthetic(args: argparse.Namespace, queries: list[str]) -> Result:
    """Query latency and memory at a larger size whose vectors are reused, not embedded."""
    size = args.synthetic
    out: Path = args.out
    source = out / f"articles-{size}.jsonl"
    if not source.exists():
        generate(size, source)
    folder = out / "idx" / f"{size}-synthetic"
    path = out / f"results-{size}-synthetic.json"
    results: Result = json.loads(path.read_text()) if path.exists() else {}
    results.update(size=size, synthetic=True, vectors_from=str(args.vectors_from))
    similar_ids = phases.sample_ids(source, args.similar)
    if "rebuild" in args.phases:
        print(f"[{size} synthetic] build ...", file=sys.stderr, flush=True)
        results["synthetic_build"] = run_phase(
            build_synthetic, source, args.vectors_from, folder / "ours"
        )
        _save(path, results)
    if "query" in args.phases:
        print(f"[{size} synthetic] query ...", file=sys.stderr, flush=True)
        results["query_ours"] = run_phase(
            phases.query_ours, folder / "ours", queries, similar_ids, args.repeat
        )
        results["recall"] = run_phase(phases.vector_recall, folder / "ours", queries, similar_ids)
        _save(path, results)
    if "http" in args.phases:
        print(f"[{size} synthetic] http ...", file=sys.stderr, flush=True)
        results["http"] = _http(
            args, folder / "ours", queries, similar_ids, f"serve-{size}-synthetic.log"
        )
        _save(path, results)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=[10_000, 100_000],
        help="archive sizes; none with --synthetic runs only that",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1k short articles, one pass of each loop: a CI smoke run",
    )
    parser.add_argument(
        "--phases",
        nargs="*",
        choices=PHASES,
        default=list(PHASES),
        help="phases to run; none re-renders the saved results",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the query set")
    parser.add_argument("--similar", type=int, default=100, help="similar-article requests")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--http-seconds", type=float, default=15.0)
    parser.add_argument(
        "--ceiling-articles",
        type=int,
        default=None,
        help="articles for the embedding-only ceiling [default: all]",
    )
    parser.add_argument(
        "--lexical-procs",
        type=int,
        nargs="+",
        choices=[1, 2],
        default=[1, 2],
        help="Whoosh writer processes for the lexical-only phase (2: its multi-process writer)",
    )
    parser.add_argument(
        "--naive-articles",
        type=int,
        default=None,
        help="articles the naive pipeline embeds and times; it copies the rest of its "
        "vectors from our rebuild's index, which must exist [default: all]",
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        default=None,
        metavar="N",
        help="also build an N-article index with reused vectors (see "
        "bench/synthetic.py) and measure its queries",
    )
    parser.add_argument(
        "--vectors-from",
        type=Path,
        default=None,
        help="index whose real vectors --synthetic reuses",
    )
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG plot here")
    parser.add_argument("--markdown", type=Path, default=None, help="write the tables here")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat, args.similar = [1000], 1, 10
        args.clients, args.http_seconds, args.ceiling_articles = [2], 2.0, 300
        args.lexical_procs = [1]  # the multi-process writer is measured, not needed in CI
    if args.synthetic and args.vectors_from is None:
        parser.error("--synthetic needs --vectors-from INDEX")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    queries = load_queries()
    if args.quick:
        queries = queries[::9]  # 14 queries of all four kinds
    runs = [run_size(args, size, queries) for size in args.sizes]
    if args.synthetic:
        runs.append(run_synthetic(args, queries))
    tables = markdown(runs)
    print(tables)
    if args.markdown:
        args.markdown.write_text(tables, encoding="utf-8")
    if args.plot:
        plot(runs, args.plot)


if __name__ == "__main__":
    main()
