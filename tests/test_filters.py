"""Filters, facets and the per-document columns behind them, on real Whoosh indexes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from whoosh import index
from whoosh import query as wq

from search.engine import Engine
from search.errors import QueryError
from search.ingest.article import Article
from search.lexical.columns import Columns
from search.lexical.index import LexicalIndex
from search.lexical.schema import build_schema
from search.retrieval.facets import count_facets
from search.retrieval.filters import Filters

from .conftest import SEED_ID

EVERYTHING = "Hegseth OR Brüssel OR Derby OR Börse OR Hitzewelle"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"date_from": "yesterday"}, "from: date 'yesterday'"),
        ({"date_to": "2025-02-30"}, "to: date '2025-02-30' is not a calendar day"),
        ({"date_from": "2025-03", "date_to": "2025-02"}, "from: 2025-03 is after to: 2025-02"),
        ({"source": [3]}, "source: expected text"),
    ],
)
def test_bad_filter_values_name_their_parameter(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        Filters.parse(**kwargs)  # type: ignore[arg-type]


def test_partial_dates_cover_their_whole_period() -> None:
    filters = Filters.parse(date_from="2025-02", date_to="2025-02")
    assert (filters.date_from, filters.date_to) == ("2025-02", "2025-02")
    period = filters.query()
    assert isinstance(period, wq.DateRange)
    assert (period.startdate, period.enddate) == (datetime(2025, 2, 1), datetime(2025, 3, 1))
    assert Filters.parse(source=" ", language=["DE", "de"]).language == ("de",)
    assert Filters.parse(source=["", " "]).query() is None and Filters().query() is None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters.parse(date_from="2025-02"), {SEED_ID, "eu-gipfel", "fussball"}),
        (Filters.parse(date_to="2025-01"), {"klima", "hegseth-pentagon", "boerse"}),
        (Filters.parse(category="politik"), {"eu-gipfel", "hegseth-pentagon"}),
        (Filters.parse(language="de", source="test", date_to="2024"), {"klima"}),
    ],
)
@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_filters_apply_to_both_sides(
    engine: Engine, mode: str, filters: Filters, expected: set[str]
) -> None:
    results = engine.search(EVERYTHING, mode=mode, filters=filters, limit=10)  # type: ignore[arg-type]
    found = {h.id for h in results.hits}
    assert results.total == len(found)
    # Every article the words match passes the filter; by meaning, only those
    # above the match threshold, and never one the filter excludes.
    assert found <= expected if mode == "semantic" else found == expected


def test_similar_articles_take_filters(engine: Engine) -> None:
    filters = Filters.parse(category=["sport", "wirtschaft"])
    results = engine.similar(article_id=SEED_ID, filters=filters)
    assert {h.id for h in results.hits} == {"fussball", "boerse"} and results.total == 2
    mine = Filters.parse(date_from="2025-02", date_to="2025-02")
    assert engine.similar(article_id=SEED_ID, filters=mine).total == 0


def test_facets_of_a_search_count_all_its_matches(engine: Engine) -> None:
    results = engine.search(EVERYTHING, mode="lexical", limit=1, facets=True)
    assert results.facets is not None and results.total == 6
    months = {c.value: c.count for c in results.facets.month}
    assert months == {"2024-07": 1, "2025-01": 1, "2025-02": 1, "2025-03": 1, "2025-04": 1}
    assert (results.facets.category[0].value, results.facets.category[0].count) == ("politik", 2)
    assert engine.search(EVERYTHING, limit=1).facets is None


def _articles() -> list[Article]:
    return [
        Article(id="a", body="Erster Text", date="2025-02-03", source="apa", category="politik"),
        Article(id="b", body="Zweiter Text", date="2024", language="de"),
        Article(id="c", body="Dritter Text", date="2025-02-03T10:00:00+01:00", source="dpa"),
    ]


def _index(folder: Path, sortable: bool) -> LexicalIndex:
    schema = build_schema()
    if not sortable:  # the schema of an index built before the columns existed
        for name in ("id", "date", "month", "source", "language", "category"):
            schema[name].column_type = None
    folder.mkdir()
    index.create_in(str(folder), schema)
    lexical = LexicalIndex(folder)
    first, *rest = _articles()
    with lexical.writer() as writer:
        writer.upsert(first)
    with lexical.writer() as writer:  # a second segment, where only some fields occur
        for article in rest:
            writer.upsert(article)
    return lexical


@pytest.mark.parametrize("sortable", [True, False])
def test_columns_read_the_same_values_with_or_without_whoosh_columns(
    tmp_path: Path, sortable: bool
) -> None:
    lexical = _index(tmp_path / "lexical", sortable)
    columns: Columns = lexical.columns()
    assert sorted(columns.docnum_of) == ["a", "b", "c"]
    facets = count_facets(columns, ["a", "b", "c"])
    assert [(c.value, c.count) for c in facets.month] == [("2025-02", 2)]
    assert [(c.value, c.count) for c in facets.source] == [("apa", 1), ("dpa", 1)]
    assert [(c.value, c.count) for c in facets.language] == [("de", 1)]
    order = columns.by_date(["b", "a", "c", "zz"], newest_first=True)
    assert order == [2, 1, 0, 3]  # c (10:00+01:00 is 09:00 UTC) after midnight of a; unknown last
    assert columns.by_date(["b", "a", "c", "zz"], newest_first=False) == [0, 1, 2, 3]
    assert lexical.matching_ids(Filters.parse(date_from="2025").query()) == {"a", "c"}
