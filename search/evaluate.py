"""Retrieval quality, measured inside the product.

Known-item queries with relevance judgments (``{"qid", "type", "query", "relevant"}``
per line) are run through the engine and scored with ``ir_measures`` (trec_eval's
definitions), so the numbers mean what they mean everywhere else in IR.

Each query's rank of its first relevant article is kept too (``first_ranks``), so a
change in a mean can be traced to the queries that moved (``rank_changes``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
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


# {mode: {qid: the ranked article ids, best first}}
Runs = dict[str, dict[str, list[str]]]
# {mode: {qid: rank of the first relevant article (1 = top), None if not in the top DEPTH}}
Ranks = dict[str, dict[str, int | None]]


def run_queries(
    engine: Engine, queries: Sequence[JudgedQuery], modes: Sequence[Mode], **search_options: object
) -> Runs:
    """Rank every query in every mode, ``DEPTH`` articles deep."""
    runs: Runs = {}
    for mode in modes:
        runs[mode] = {}
        for q in queries:
            # Judged queries are prose or keywords, never query syntax.
            ranking = engine.rank(q.text, mode=mode, depth=DEPTH, plain=True, **search_options)  # type: ignore[arg-type]
            runs[mode][q.qid] = [item.article_id for item in ranking.items]
    return runs


def score_runs(
    runs: Runs, queries: Sequence[JudgedQuery]
) -> dict[str, dict[str, dict[str, float]]]:
    """Scores as ``{mode: {query type or "all": {measure: value}}}``."""
    qrels = [ir_measures.Qrel(q.qid, doc, 1) for q in queries for doc in q.relevant]
    types: dict[str, list[str]] = defaultdict(list)
    for q in queries:
        types[q.type].append(q.qid)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for mode, by_query in runs.items():
        run = [
            ir_measures.ScoredDoc(qid, article_id, float(DEPTH - rank))
            for qid, ranked in by_query.items()
            for rank, article_id in enumerate(ranked)
        ]
        table[mode] = {"all": _scores(qrels, run, [q.qid for q in queries])}
        for kind, qids in sorted(types.items()):
            table[mode][kind] = _scores(qrels, run, qids)
    return table


def evaluate(
    engine: Engine, queries: Sequence[JudgedQuery], modes: Sequence[Mode], **search_options: object
) -> dict[str, dict[str, dict[str, float]]]:
    """Scores as ``{mode: {query type or "all": {measure: value}}}``."""
    return score_runs(run_queries(engine, queries, modes, **search_options), queries)


def first_ranks(runs: Runs, queries: Sequence[JudgedQuery]) -> Ranks:
    """Each query's rank of its first relevant article, per mode."""
    relevant = {q.qid: set(q.relevant) for q in queries}
    return {
        mode: {
            qid: next((i for i, a in enumerate(ranked, 1) if a in relevant[qid]), None)
            for qid, ranked in by_query.items()
        }
        for mode, by_query in runs.items()
    }


def mrr_at_10(ranks: Mapping[str, int | None]) -> float:
    """MRR@10 of known-item queries from their first relevant ranks (as ``RR@10``)."""
    return sum(_rr10(r) for r in ranks.values()) / len(ranks)


def mrr_by_type(ranks: Ranks, queries: Sequence[JudgedQuery]) -> dict[str, dict[str, float]]:
    """MRR@10 as ``{mode: {query type or "all": value}}``, from first relevant ranks."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for q in queries:
        kinds[q.type].append(q.qid)
    table = {}
    for mode, by_query in ranks.items():
        table[mode] = {"all": mrr_at_10(by_query)}
        for kind, qids in sorted(kinds.items()):
            table[mode][kind] = mrr_at_10({qid: by_query[qid] for qid in qids})
    return table


@dataclass(frozen=True)
class RankChange:
    """One query whose first relevant article moved between two rank tables."""

    mode: str
    qid: str
    before: int | None
    after: int | None

    @property
    def reciprocal_delta(self) -> float:
        """The change in this query's RR@10: n times what it adds to the mean's change."""
        return _rr10(self.after) - _rr10(self.before)

    def __str__(self) -> str:
        def shown(rank: int | None) -> str:
            return "-" if rank is None else str(rank)

        return (
            f"{self.mode} {self.qid}: rank {shown(self.before)} -> {shown(self.after)} "
            f"(RR@10 {self.reciprocal_delta:+.3f})"
        )


def _rr10(rank: int | None) -> float:
    return 0.0 if rank is None or rank > 10 else 1 / rank


def rank_changes(before: Ranks, after: Ranks) -> list[RankChange]:
    """The queries whose first relevant rank differs, largest RR@10 change first.

    A query or mode present on one side only is listed with the other side as None.
    """
    changes = []
    for mode in sorted(set(before) | set(after)):
        old, new = before.get(mode, {}), after.get(mode, {})
        for qid in sorted(set(old) | set(new)):
            if old.get(qid) != new.get(qid):
                changes.append(RankChange(mode, qid, old.get(qid), new.get(qid)))
    return sorted(changes, key=lambda c: (-abs(c.reciprocal_delta), c.mode, c.qid))


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
