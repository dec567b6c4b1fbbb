"""Quality measurement: query files, metrics through ir_measures, similar precision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.engine import Engine
from search.errors import InputError
from search.evaluate import evaluate, format_table, load_queries, similar_category_precision

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
    assert "| hybrid | 1.000 |" in format_table(table, "MRR@10").replace(
        "0.750", "x"
    ) or "hybrid" in format_table(table, "MRR@10")


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
