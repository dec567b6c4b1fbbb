"""Retrieval quality on 10kGNAD as a regression guard (slow: builds the real archive).

The numbers and what each change did are in docs/quality.md; these tests keep the
properties the product promises from silently slipping.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.embeddings import Embedder
from search.engine import Engine
from search.evaluate import evaluate, load_queries, similar_category_precision

from .conftest import SHARED

pytestmark = pytest.mark.slow

DEV_QUERIES = SHARED / "queries" / "10kgnad-dev.jsonl"


@pytest.fixture(scope="module")
def gnad_engine(gnad_index: Path, embedder: Embedder) -> Engine:
    return Engine(gnad_index, embedder=embedder)


def test_hybrid_is_at_least_the_better_side_on_every_query_type(gnad_engine: Engine) -> None:
    table = evaluate(gnad_engine, load_queries(DEV_QUERIES), ["lexical", "semantic", "hybrid"])
    for kind, scores in table["hybrid"].items():
        better = max(table["lexical"][kind]["MRR@10"], table["semantic"][kind]["MRR@10"])
        assert scores["MRR@10"] >= better, kind
    assert table["hybrid"]["all"]["MRR@10"] >= 0.96  # 0.966 when this was written


def test_similar_articles_share_their_category(gnad_engine: Engine) -> None:
    assert similar_category_precision(gnad_engine) >= 0.72  # 0.724 when this was written
