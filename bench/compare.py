"""Query latency of two versions of the engine, side by side in one run.

    git archive <commit> search | tar -x -C /tmp/before
    python -m bench.compare --before /tmp/before --before-index IDX_OLD --index IDX_NEW

Each version runs in its own process with its own ``search`` package first on
``PYTHONPATH`` and opens an index built by that version (index formats may differ
between versions). The probe uses only the engine's public API, so any version with
``Engine(path).search`` and ``.similar`` can be measured; the two runs alternate per
round so that a machine that gets busier or quieter affects both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.measure import percentiles
from bench.phases import sample_ids
from bench.run import REPO, load_queries

# Run with another tree's ``search`` first on the path: imports nothing from bench.
PROBE = """
import json, sys, time
from search.engine import Engine
index, queries, ids = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
engine = Engine(index)
engine.embedder.encode(["warm-up"])
calls = {m: (lambda q, m=m: engine.search(q, mode=m)) for m in ("lexical", "semantic", "hybrid")}
calls["similar"] = lambda i: engine.similar(article_id=i)
times = {}
for name, call in calls.items():
    items = ids if name == "similar" else queries
    for item in items[:3]:
        call(item)
    times[name] = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times[name].append(time.perf_counter() - started)
print(json.dumps(times))
"""


def probe(tree: Path, index: Path, queries: list[str], ids: list[str]) -> dict:
    """Run the probe with ``tree``'s ``search`` package.

    ``python -c`` puts its working directory first on ``sys.path``, ahead of
    ``PYTHONPATH``, so the probe runs inside ``tree``: from the repository root it
    would import this checkout's ``search`` for both versions.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree}{os.pathsep}{env.get('PYTHONPATH', '')}"
    output = subprocess.run(
        [sys.executable, "-c", PROBE, str(index.resolve()), json.dumps(queries), json.dumps(ids)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="tree holding the old search/")
    parser.add_argument("--before-index", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True, help="articles, for similar ids")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    queries = load_queries()
    ids = sample_ids(args.source, 60)
    times: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for _ in range(args.rounds):
        for name, tree, index in (
            ("before", args.before, args.before_index),
            ("after", REPO, args.index),
        ):
            for mode, seconds in probe(tree, index, queries, ids).items():
                times[name].setdefault(mode, []).extend(seconds)
    print("| mode | before p50 | before p95 | after p50 | after p95 | p95 before / after |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in times["after"]:
        old, new = percentiles(times["before"][mode]), percentiles(times["after"][mode])
        print(
            f"| {mode} | {old['p50']:.1f} | {old['p95']:.1f} | {new['p50']:.1f} "
            f"| {new['p95']:.1f} | {old['p95'] / new['p95']:.1f}x |"
        )


if __name__ == "__main__":
    main()
