"""Quality measurement: query files, metrics through ir_measures, similar precision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.engine import Engine
from search.errors import InputError
from search.evaluate import (
    JudgedQuery,
    RankChange,
    evaluate,
    first_ranks,
    format_table,
    load_queries,
    mrr_at_10,
    mrr_by_type,
    rank_changes,
    run_queries,
    score_runs,
    similar_category_precision,
)

from .conftest import SEED_ID


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def test_known_items_found_first_score_one(engine: Engine, tmp_path: Path) -> None:
    queries = load_queries(
        _write(
            tmp_path / "q.jsonl",
            [
                {"qid": "1", "type": "kw_de", "query": "Hegseth Brüssel", "relevant": [SEED_ID]},
                {"qid": "2", "type": "kw_de", "query": "Derby Rapid", "relevant": ["fussball"]},
                {
                    "qid": "3",
                    "type": "nl_en",
                    "query": "heat wave in Europe",
                    "relevant": ["klima"],
                },
                {
                    "qid": "4",
                    "type": "nl_en",
                    "query": '"unbalanced quote',
                    "relevant": ["nirgends"],
                },
            ],
        )
    )
    table = evaluate(engine, queries, ["lexical", "hybrid"])
    assert table["hybrid"]["kw_de"]["MRR@10"] == 1.0
    assert table["hybrid"]["nl_en"]["MRR@10"] == pytest.approx(0.5)  # query 4 finds nothing
    assert table["hybrid"]["all"]["R@100"] == pytest.approx(0.75)
    assert "| hybrid | 0.750 | 1.000 | 0.500 |" in format_table(table, "MRR@10")


def test_malformed_query_files_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"qid": "1", "query": "x", "relevant": ["a"]}\n{"qid": "2"}\n', encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"q.jsonl:2"):
        load_queries(path)
    with pytest.raises(InputError, match="cannot read"):
        load_queries(tmp_path / "missing.jsonl")


def test_similar_category_precision_is_a_share(engine: Engine) -> None:
    value = similar_category_precision(engine, k=2)
    assert 0.0 <= value <= 1.0


QUERIES = [
    JudgedQuery("a1", "kw", "x", ("A",)),
    JudgedQuery("a2", "kw", "x", ("B", "C")),
    JudgedQuery("b1", "nl", "x", ("D",)),
]


def test_first_ranks_are_one_based_and_none_when_not_found() -> None:
    runs = {"lexical": {"a1": ["A", "Z"], "a2": ["Z", "Y", "C", "B"], "b1": ["Z"]}}
    assert first_ranks(runs, QUERIES) == {"lexical": {"a1": 1, "a2": 3, "b1": None}}


def test_mrr_from_ranks_agrees_with_trec_eval() -> None:
    runs = {
        "hybrid": {
            "a1": ["A"],
            "a2": [f"filler-{i}" for i in range(10)] + ["B"],  # rank 11: outside @10
            "b1": ["Z", "D"],
        }
    }
    ranks = first_ranks(runs, QUERIES)
    assert mrr_at_10(ranks["hybrid"]) == pytest.approx((1 + 0 + 0.5) / 3)
    by_type = mrr_by_type(ranks, QUERIES)["hybrid"]
    scored = score_runs(runs, QUERIES)["hybrid"]
    for kind in ("all", "kw", "nl"):
        assert by_type[kind] == pytest.approx(scored[kind]["MRR@10"]), kind


def test_rank_changes_list_the_queries_that_moved_largest_first() -> None:
    before = {"hybrid": {"a1": 1, "a2": 4, "b1": None}, "lexical": {"a1": 2}}
    after = {"hybrid": {"a1": 2, "a2": 4, "b1": 3}, "lexical": {"a1": 2}}
    changes = rank_changes(before, after)
    assert changes == [RankChange("hybrid", "a1", 1, 2), RankChange("hybrid", "b1", None, 3)]
    assert changes[0].reciprocal_delta == pytest.approx(-0.5)
    assert str(changes[1]) == "hybrid b1: rank - -> 3 (RR@10 +0.333)"
    assert rank_changes(after, after) == []


def test_a_mode_or_query_on_one_side_only_is_a_change() -> None:
    changes = rank_changes({"hybrid": {"a1": 1}}, {"hybrid": {"a2": 1}, "semantic": {"a1": 5}})
    assert [(c.mode, c.qid, c.before, c.after) for c in changes] == [
        ("hybrid", "a1", 1, None),
        ("hybrid", "a2", None, 1),
        ("semantic", "a1", None, 5),
    ]


def test_evaluate_scores_the_runs_it_makes(engine: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        [{"qid": "1", "type": "kw_de", "query": "Derby Rapid", "relevant": ["fussball"]}],
    )
    queries = load_queries(path)
    runs = run_queries(engine, queries, ["lexical"])
    assert first_ranks(runs, queries) == {"lexical": {"1": 1}}
    assert evaluate(engine, queries, ["lexical"]) == score_runs(runs, queries)
