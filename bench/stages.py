"""Where a query's time goes: mean milliseconds per stage, per mode, in-process.

    python -m bench.stages bench/out/idx/10000/ours --repeat 2

Wraps the engine's stages with timers (no profiler overhead on the rest) and runs
the 10kGNAD dev queries. Stages nest: query grounding includes its rare-term
lookups, display includes snippets. Names are looked up when the module runs, so
a stage the engine no longer has is reported as missing instead of guessed.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.phases import sample_ids
from bench.run import load_queries
from search import engine as engine_module
from search.engine import Engine
from search.lexical.index import LexicalIndex
from search.semantic.vectors import VectorIndex

STAGES: list[tuple[Any, str, str]] = [
    (engine_module, "correct_query", "spelling correction"),
    (LexicalIndex, "search", "lexical ranking (numpy BM25F)"),
    (LexicalIndex, "coverage", "keyword coverage of the best lexical match"),
    (engine_module, "ground_query_vector", "query grounding (expansion)"),
    (LexicalIndex, "rare_terms", "  of which rare-term lookups"),
    (engine_module, "rank_articles", "semantic ranking (blend)"),
    (engine_module, "rank_like", "similar-article ranking"),
    (VectorIndex, "search", "  of which vector search"),
    (engine_module, "build_page", "hits and snippets"),
]


def _timed(function: Callable[..., Any], totals: dict[str, float], name: str) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - started

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--source", type=Path, default=None, help="articles, for similar ids")
    args = parser.parse_args()
    totals: dict[str, float] = defaultdict(float)
    missing = []
    for owner, attribute, name in STAGES:
        if not hasattr(owner, attribute):
            missing.append(attribute)
            continue
        setattr(owner, attribute, _timed(getattr(owner, attribute), totals, name))
    engine = Engine(args.index)
    encode = engine.embedder.encode
    engine.embedder.encode = _timed(encode, totals, "query embedding")  # type: ignore[method-assign]
    queries = load_queries()
    calls: dict[str, tuple[Callable[[str], object], list[str]]] = {
        mode: (lambda q, m=mode: engine.search(q, mode=m), queries)
        for mode in ("lexical", "semantic", "hybrid")
    }
    if args.source is not None:
        calls["similar"] = (lambda i: engine.similar(article_id=i), sample_ids(args.source, 100))
    names = ["query embedding", *(name for _, _, name in STAGES)]
    print("| stage (mean ms per request) | " + " | ".join(calls) + " |")
    print("|---|" + "---:|" * len(calls))
    columns: dict[str, dict[str, float]] = {}
    for mode, (call, items) in calls.items():
        for item in items[:3]:
            call(item)
        totals.clear()
        started = time.perf_counter()
        for _ in range(args.repeat):
            for item in items:
                call(item)
        count = len(items) * args.repeat
        columns[mode] = {n: totals[n] * 1000 / count for n in names}
        columns[mode]["total"] = (time.perf_counter() - started) * 1000 / count
    for name in [*names, "total"]:
        cells = [f"{columns[m][name]:.1f}" if columns[m][name] else "-" for m in calls]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if missing:
        print(f"\n(stages not found in this engine: {', '.join(missing)})")


if __name__ == "__main__":
    main()
