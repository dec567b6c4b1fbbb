"""Retrieval quality, measured inside the product.

Known-item queries with relevance judgments (``{"qid", "type", "query", "relevant"}``
per line) are run through the engine and scored with ``ir_measures`` (trec_eval's
definitions), so the numbers mean what they mean everywhere else in IR.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ir_measures
from ir_measures import RR, R, nDCG

from search.engine import Engine
from search.errors import InputError
from search.retrieval.results import Mode

MEASURES = {"MRR@10": RR @ 10, "nDCG@10": nDCG @ 10, "R@10": R @ 10, "R@100": R @ 100}
DEPTH = 100


@dataclass(frozen=True)
class JudgedQuery:
    """A query, its kind (``kw_de``, ``nl_en``, ...) and the ids that answer it."""

    qid: str
    type: str
    text: str
    relevant: tuple[str, ...]


def load_queries(path: str | Path) -> list[JudgedQuery]:
    """Read a query file; a malformed line is an InputError naming the line."""
    queries = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read query file ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            queries.append(
                JudgedQuery(
                    str(row["qid"]),
                    str(row.get("type", "all")),
                    str(row["query"]),
                    tuple(map(str, row["relevant"])),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not a judged query ({exc})") from exc
    if not queries:
        raise InputError(f"{path}: no queries")
    return queries


def _scores(
    qrels: list[ir_measures.Qrel], run: list[ir_measures.ScoredDoc], qids: Iterable[str]
) -> dict[str, float]:
    wanted = set(qids)
    per_query: dict[str, dict[str, float]] = defaultdict(dict)
    measures = list(MEASURES.values())
    for metric in ir_measures.iter_calc(
        measures,
        [q for q in qrels if q.query_id in wanted],
        [r for r in run if r.query_id in wanted],
    ):
        per_query[metric.query_id][str(metric.measure)] = metric.value
    # A query with no hits at all still counts, as zero.
    return {
        name: sum(per_query.get(qid, {}).get(str(m), 0.0) for qid in wanted) / len(wanted)
        for name, m in MEASURES.items()
    }


def evaluate(
    engine: Engine, queries: Sequence[JudgedQuery], modes: Sequence[Mode], **search_options: object
) -> dict[str, dict[str, dict[str, float]]]:
    """Scores as ``{mode: {query type or "all": {measure: value}}}``."""
    qrels = [ir_measures.Qrel(q.qid, doc, 1) for q in queries for doc in q.relevant]
    types: dict[str, list[str]] = defaultdict(list)
    for q in queries:
        types[q.type].append(q.qid)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        run = []
        for q in queries:
            # Judged queries are prose or keywords, never query syntax.
            ranking = engine.rank(q.text, mode=mode, depth=DEPTH, plain=True, **search_options)  # type: ignore[arg-type]
            run.extend(
                ir_measures.ScoredDoc(q.qid, item.article_id, float(DEPTH - rank))
                for rank, item in enumerate(ranking.items)
            )
        table[mode] = {"all": _scores(qrels, run, [q.qid for q in queries])}
        for kind, qids in sorted(types.items()):
            table[mode][kind] = _scores(qrels, run, qids)
    return table


def similar_category_precision(engine: Engine, k: int = 10) -> float:
    """Mean share of an article's ``k`` most similar articles that share its category."""
    articles = [(a.id, a.category) for a in engine.articles() if a.category]
    if not articles:
        raise InputError("no article in the index has a category")
    category = dict(articles)
    total = 0.0
    for article_id, own in articles:
        items = engine.rank_similar(article_id=article_id, depth=k).items
        total += sum(category.get(item.article_id) == own for item in items) / k
    return total / len(articles)


def format_table(table: dict[str, dict[str, dict[str, float]]], measure: str | None = None) -> str:
    """A markdown table: one row per mode, one column per query type (or per measure)."""
    lines = []
    if measure is not None:
        kinds = list(next(iter(table.values())))
        lines.append(f"| {measure} | " + " | ".join(kinds) + " |")
        lines.append("|---" * (len(kinds) + 1) + "|")
        for mode, by_kind in table.items():
            lines.append(
                f"| {mode} | " + " | ".join(f"{by_kind[k][measure]:.3f}" for k in kinds) + " |"
            )
        return "\n".join(lines)
    lines.append("| mode | type | " + " | ".join(MEASURES) + " |")
    lines.append("|---" * (len(MEASURES) + 2) + "|")
    for mode, by_kind in table.items():
        for kind, values in by_kind.items():
            lines.append(
                f"| {mode} | {kind} | " + " | ".join(f"{values[m]:.3f}" for m in MEASURES) + " |"
            )
    return "\n".join(lines)
