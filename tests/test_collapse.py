"""Collapsing agency copies: the pure function on tiny fixed inputs, then end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from search.cli import main
from search.engine import Engine
from search.ingest.article import Article
from search.retrieval.collapse import Copy, Kept, collapse
from search.semantic.embedders import Embedder
from search.settings import Settings

from .archives import COPY, STORY

DPA = Copy("a", "Kurier", "2025-03-01")
APA = Copy("b", "Tagblatt", "2025-03-02")
REUTERS = Copy("c", "Rundschau", None)
STORY_OF = {"a": "a", "b": "a", "c": "a", "d": "d"}
MEMBERS = {"a": [DPA, APA, REUTERS]}


def test_the_best_ranked_copy_stays_and_lists_the_others() -> None:
    assert collapse(["b", "d", "a", "c"], STORY_OF, MEMBERS) == [
        Kept("b", (DPA, REUTERS)),
        Kept("d", ()),
    ]


def test_copies_that_did_not_rank_are_listed_too() -> None:
    assert collapse(["c"], STORY_OF, MEMBERS) == [Kept("c", (DPA, APA))]


def test_articles_without_a_story_stay_alone_in_their_order() -> None:
    assert collapse(["x", "d", "y"], STORY_OF, MEMBERS) == [Kept("x"), Kept("d"), Kept("y")]


def test_an_empty_ranking_collapses_to_nothing() -> None:
    assert collapse([], STORY_OF, MEMBERS) == []


# -- through the engine, the API and the command line ---------------------------------------


@pytest.fixture(scope="module")
def copies(
    tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path], embedder: Embedder
) -> Path:
    """The tiny index plus one agency story in two outlets and an unrelated article."""
    index = tmp_path_factory.mktemp("copies") / "index"
    engine, _ = Engine.rebuild(tiny_sources, index, embedder=embedder)
    engine.write(
        [
            Article(id="kurier-1", body=STORY, source="Kurier", date="2025-07-05"),
            Article(id="tagblatt-9", body="(APA) " + COPY, source="Tagblatt", date="2025-07-06"),
            Article(id="andere", body="Die Photovoltaik im Gewerbegebiet wächst.", source="Kurier"),
        ]
    )
    return index


def test_two_copies_come_back_as_one_hit_listing_the_other(
    copies: Path, embedder: Embedder
) -> None:
    engine = Engine(copies, embedder=embedder)
    for mode in ("lexical", "hybrid"):
        results = engine.search("Photovoltaik Schulen", mode=mode, facets=True)
        ids = [hit.id for hit in results.hits]
        assert ("kurier-1" in ids) != ("tagblatt-9" in ids), ids
        [hit] = [h for h in results.hits if h.id in ("kurier-1", "tagblatt-9")]
        other = "tagblatt-9" if hit.id == "kurier-1" else "kurier-1"
        assert [c.id for c in hit.duplicates] == [other]
        every = engine.search("Photovoltaik Schulen", mode=mode, facets=True, collapse=False)
        assert {"kurier-1", "tagblatt-9"} <= {h.id for h in every.hits}
        assert all(not h.duplicates for h in every.hits)
        # Totals and facets count the story once.
        assert results.total == every.total - 1
        assert results.facets is not None and every.facets is not None
        assert sum(c.count for c in results.facets.source) == results.total
        assert sum(c.count for c in every.facets.source) == every.total


def test_similar_articles_never_list_a_copy_of_the_asked_one(
    copies: Path, embedder: Embedder
) -> None:
    engine = Engine(copies, embedder=embedder)
    ids = [hit.id for hit in engine.similar("kurier-1", limit=20).hits]
    assert "tagblatt-9" not in ids and "kurier-1" not in ids and "andere" in ids


def test_the_api_collapses_by_default_and_shows_every_copy_on_request(copies: Path) -> None:
    with TestClient(create_app(Settings(index=copies))) as client:
        one = client.get("/search", params={"q": "Photovoltaik Schulen", "mode": "lexical"})
        both = client.get(
            "/search", params={"q": "Photovoltaik Schulen", "mode": "lexical", "collapse": "false"}
        )
    assert one.status_code == both.status_code == 200
    [story] = [h for h in one.json()["hits"] if h["duplicates"]]
    assert story["duplicates"][0]["source"] in ("Kurier", "Tagblatt")
    assert len(both.json()["hits"]) == len(one.json()["hits"]) + 1


def test_the_cli_lists_the_copies_and_no_collapse_shows_them(copies: Path) -> None:
    args = ["query", "Photovoltaik Schulen", "--mode", "lexical", "--index", str(copies)]
    collapsed = CliRunner().invoke(main, args)
    every = CliRunner().invoke(main, [*args, "--no-collapse"])
    assert collapsed.exit_code == every.exit_code == 0, collapsed.output + every.output
    assert "also in: " in collapsed.stdout and "also in: " not in every.stdout
    assert "kurier-1" in every.stdout and "tagblatt-9" in every.stdout
