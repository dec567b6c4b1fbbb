"""Per-query ranks on the judged 10kGNAD sets, saved and compared.

Writes, for the dev queries and each held-out batch, every query's rank of its
article in each mode, plus similar-article category precision@10. Saved to
``tests/data/quality-baseline.json`` it is what ``tests/test_quality.py`` holds the
engine to; compared with another such file it prints MRR@10 per set, mode and query
type before and after, and which queries moved (the ablation tables of
docs/quality.md).

    news-search rebuild ../shared/corpora/10kgnad/articles.jsonl --index /tmp/gnad
    python bench/quality_ranks.py --index /tmp/gnad --out tests/data/quality-baseline.json
    python bench/quality_ranks.py --index /tmp/gnad-new --out /tmp/new.json \\
        --against tests/data/quality-baseline.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from search.engine import Engine
from search.evaluate import (
    first_ranks,
    load_queries,
    mrr_by_type,
    rank_changes,
    run_queries,
    similar_category_precision,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
# Dev chose the constants; the held-out batches only confirm them (docs/quality.md).
QUERY_SETS = {
    "dev": ROOT.parent / "shared" / "queries" / "10kgnad-dev.jsonl",
    **{
        name: DATA / f"10kgnad-{name}.jsonl"
        for name in (
            "heldout",
            "heldout-misspelt",
            "heldout-2",
            "heldout-2-misspelt",
            "heldout-3",
            "heldout-3-misspelt",
        )
    },
}
MODES = ("lexical", "semantic", "hybrid")
SIMILAR_K = 10


def measure(engine: Engine, sets: dict[str, Path] = QUERY_SETS) -> dict[str, Any]:
    """Ranks per set and mode, and similar-article precision, as the baseline file holds them."""
    ranks = {}
    for name, path in sets.items():
        queries = load_queries(path)
        ranks[name] = first_ranks(run_queries(engine, queries, MODES), queries)
    return {
        "ranks": ranks,
        f"similar_P@{SIMILAR_K}": round(similar_category_precision(engine, SIMILAR_K), 4),
    }


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Markdown: MRR@10 before -> after per set, mode and type, then the queries that moved."""
    lines = []
    key = f"similar_P@{SIMILAR_K}"
    lines.append(f"similar articles P@{SIMILAR_K}: {before[key]:.3f} -> {after[key]:.3f}\n")
    for name, path in QUERY_SETS.items():
        if name not in after["ranks"]:
            continue
        queries = load_queries(path)
        old = mrr_by_type(before["ranks"][name], queries)
        new = mrr_by_type(after["ranks"][name], queries)
        kinds = list(new[MODES[0]])
        lines.append(f"{name} | " + " | ".join(kinds) + " |")
        lines.append("|---" * (len(kinds) + 1) + "|")
        for mode in MODES:
            cells = [f"{old[mode][k]:.3f} → {new[mode][k]:.3f}" for k in kinds]
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        moved = rank_changes(before["ranks"][name], after["ranks"][name])
        lines.extend(f"  {change}" for change in moved)
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the ranks (JSON)")
    parser.add_argument("--against", type=Path, help="a ranks file to compare with")
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=list(QUERY_SETS),
        default=list(QUERY_SETS),
        help="query sets to run [default: all]; 'dev' alone while choosing a constant",
    )
    args = parser.parse_args()
    measured = measure(Engine(args.index), {name: QUERY_SETS[name] for name in args.sets})
    args.out.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if args.against is not None:
        print(compare(json.loads(args.against.read_text(encoding="utf-8")), measured))


if __name__ == "__main__":
    main()
