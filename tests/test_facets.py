"""Facets that mean one thing: folded spellings, canonical languages, the timeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from search.engine import Engine
from search.ingest.languages import canonical_language, primary_language
from search.retrieval.facets import timeline
from search.retrieval.filters import Filters
from search.semantic.embedders import Embedder

# Every article holds "Gemeinderat", so one lexical query matches them all.
ARTICLES = [
    {"id": "a", "date": "2024-03-02", "category": "Inland", "source": "Die Zeitung"},
    {"id": "b", "date": "2024-03-09", "category": "inland", "source": "die  zeitung"},
    {"id": "c", "date": "2024-03-20", "category": "Inland", "source": "Die Zeitung"},
    {"id": "d", "date": "2024-03-21", "category": "Sport", "language": "de-AT"},
    {"id": "e", "category": "sport", "language": "DE_ch"},
    {"id": "f", "date": "2024-04-01", "category": "Kultur", "language": "en"},
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    folder = tmp_path_factory.mktemp("facets")
    corpus = folder / "articles.jsonl"
    lines = []
    for article in ARTICLES:
        text = f"Der Gemeinderat tagte am Abend, berichtet Artikel {article['id']}."
        lines.append(json.dumps({"language": "de", **article, "text": text}))
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Engine.rebuild([corpus], folder / "index", embedder=embedder)[0]


def _counts(values: list) -> dict[str, int]:
    return {c.value: c.count for c in values}


def test_one_facet_value_per_spelling_and_its_count_is_the_filters_total(engine: Engine) -> None:
    facets = engine.search("Gemeinderat", mode="lexical", facets=True).facets
    assert facets is not None
    categories = _counts(facets.category)
    # The most common spelling names the value.
    assert categories == {"Inland": 3, "Sport": 2, "Kultur": 1}
    assert _counts(facets.source) == {"Die Zeitung": 2 + 1}
    for spelling in ("Inland", "inland", "INLAND", " inland "):
        for mode in ("lexical", "hybrid"):
            found = engine.search(
                "Gemeinderat", mode=mode, filters=Filters.parse(category=spelling), limit=10
            )
            assert found.total == categories["Inland"], (spelling, mode)
            assert {h.id for h in found.hits} == {"a", "b", "c"}
    upper = Filters.parse(source="DIE ZEITUNG")
    found = engine.search("Gemeinderat", mode="lexical", filters=upper)
    assert found.total == 3


def test_languages_fold_to_the_language_and_filter_alike(engine: Engine) -> None:
    facets = engine.search("Gemeinderat", mode="lexical", facets=True).facets
    assert facets is not None
    assert _counts(facets.language) == {"de": 5, "en": 1}
    for tag in ("de", "DE", "de-AT"):
        found = engine.search("Gemeinderat", mode="lexical", filters=Filters.parse(language=tag))
        assert found.total == 5, tag


def test_the_timeline_has_an_undated_bucket_and_picks_its_unit_by_span(engine: Engine) -> None:
    facets = engine.search("Gemeinderat", mode="lexical", facets=True).facets
    assert facets is not None
    assert facets.timeline.unit == "day"  # 2 March to 1 April: a month's span
    assert facets.timeline.undated == 1
    assert sum(c.count for c in facets.timeline.buckets) == 5
    assert facets.timeline.buckets[0].value == "2024-03-02"
    top = facets.top(1)
    assert [c.value for c in top.category] == ["Inland"] and top.timeline == facets.timeline


def test_timeline_units() -> None:
    usec_day = 86_400_000_000
    day = 738_000  # days since 0001-01-01
    keys = np.array([day * usec_day, (day + 200) * usec_day, -1])
    assert timeline(keys).unit == "month"
    wide = timeline(np.array([day * usec_day, (day + 20 * 365) * usec_day]))
    assert wide.unit == "year" and [b.count for b in wide.buckets] == [1, 1]
    assert timeline(np.array([-1, -1])).undated == 2


@pytest.mark.parametrize(
    ("tag", "canonical", "language"),
    [("DE_at", "de-AT", "de"), ("zh-hant-tw", "zh-Hant-TW", "zh"), ("es-419", "es-419", "es")],
)
def test_language_tags(tag: str, canonical: str, language: str) -> None:
    assert canonical_language(tag) == canonical
    assert primary_language(tag) == language
