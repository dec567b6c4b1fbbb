"""Calibrate the semantic match threshold: how many judged targets pass it, and how
many articles an off-topic query matches, per candidate threshold.

    python -m bench.threshold --index /tmp/gnad QUERIES.jsonl [QUERIES.jsonl ...]

Choose on the dev queries, confirm on held-out ones (docs/quality.md). A target
that the lexical side matches stays a hybrid match whatever its similarity, so the
table shows both: targets passing by meaning alone, and by meaning or words.
"""

from __future__ import annotations

import argparse

import numpy as np

from search.engine import Engine
from search.evaluate import load_queries
from search.lexical.parse import plain_words
from search.retrieval.plan import make_plan
from search.retrieval.ranking import query_vector

THRESHOLDS = (0.2, 0.25, 0.3, 0.32, 0.34, 0.36, 0.4, 0.45)
# Topics a German news archive has no story about, in its languages and others.
OFF_TOPIC = (
    "Quetzalcoatlus Flugsaurier",
    "Rezept für Zwetschgenknödel mit Zimtbröseln",
    "Paarungsverhalten von Tiefseeanglerfischen",
    "knitting pattern for a cable-knit sweater",
    "how do cacti photosynthesise at night",
    "xqzv plorkt wunf",
    "Stricknadeln Größe 4",
    "recette de la tarte tatin",
)


def best_similarity(engine: Engine, query: str, article_id: str) -> tuple[float, bool]:
    """The target's best passage similarity to the query's vector, and whether the
    lexical side matches it."""
    generation = engine._current()
    plan = make_plan(plain_words(query), "hybrid", generation.lexical)
    vector = query_vector(plan, generation, engine._embed, engine.expansion)
    similarity = float((generation.vectors.vectors_of(article_id) @ vector).max())
    lexical = plan.parsed is not None and article_id in {
        a for a, _ in generation.lexical.search(plan.parsed, None).ranked
    }
    return similarity, lexical


def match_count(engine: Engine, query: str, threshold: float) -> int:
    generation = engine._current()
    plan = make_plan(query, "semantic", generation.lexical)
    vector = query_vector(plan, generation, engine._embed, engine.expansion)
    return len(generation.vectors.nearest(vector, 0, threshold)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="+")
    parser.add_argument("--index", required=True)
    args = parser.parse_args()
    engine = Engine(args.index)
    for path in args.queries:
        judged = load_queries(path)
        rows = [(q.type, *best_similarity(engine, q.text, q.relevant[0])) for q in judged]
        print(f"\n{path}: {len(rows)} queries; share of targets kept")
        print("threshold | " + " | ".join(sorted({r[0] for r in rows})) + " | all | by words too")
        for threshold in THRESHOLDS:
            cells = []
            for kind in sorted({r[0] for r in rows}):
                sims = [s for t, s, _ in rows if t == kind]
                cells.append(f"{np.mean([s > threshold for s in sims]):.3f}")
            kept = np.mean([s > threshold for _, s, _ in rows])
            either = np.mean([s > threshold or lex for _, s, lex in rows])
            print(f"{threshold:.2f} | " + " | ".join(cells) + f" | {kept:.3f} | {either:.3f}")
        lowest = sorted(rows, key=lambda r: r[1])[:5]
        print("lowest target similarities:", [(t, round(s, 3), lex) for t, s, lex in lowest])
    print("\noff-topic queries: articles matched by meaning")
    print("threshold | " + " | ".join(q[:18] for q in OFF_TOPIC))
    for threshold in THRESHOLDS:
        counts = [match_count(engine, q, threshold) for q in OFF_TOPIC]
        print(f"{threshold:.2f} | " + " | ".join(str(c) for c in counts))


if __name__ == "__main__":
    main()
