"""Acceptance checks on the shared real corpora (slow: they embed thousands of articles)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from search.engine import Engine
from search.semantic.embedders import Embedder
from search.settings import Settings

from .conftest import SEED_FILE, SEED_ID, SHARED

pytestmark = pytest.mark.slow

ZEITGEIST = SHARED / "corpora" / "zeitgeist-de-teasers" / "articles.jsonl"


@pytest.fixture(scope="module")
def zeitgeist_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    engine, report = Engine.rebuild(
        [SEED_FILE, ZEITGEIST], tmp_path_factory.mktemp("zeitgeist") / "i", embedder=embedder
    )
    assert report.stats.articles == 4153 and not report.rejected
    return engine


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_seed_first_among_4152_teasers(zeitgeist_engine: Engine, mode: str) -> None:
    hits = zeitgeist_engine.search("Hegseth Brüssel", mode=mode).hits  # type: ignore[arg-type]
    assert hits[0].id == SEED_ID


def test_seed_in_semantic_top_5_among_4152_teasers(zeitgeist_engine: Engine) -> None:
    hits = zeitgeist_engine.search("Hegseth Brüssel", mode="semantic", limit=5).hits
    assert SEED_ID in [h.id for h in hits]


@pytest.fixture(scope="module")
def gnad_client(gnad_index: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(index=gnad_index))) as client:
        yield client


def test_english_question_finds_the_german_edge_article(gnad_client: TestClient) -> None:
    query = "Microsoft shows ads for its Edge browser when users search for Chrome"
    data = gnad_client.get("/search", params={"q": query, "mode": "hybrid"}).json()
    assert "gnad-0010" in [h["id"] for h in data["hits"]]


def test_similar_articles_over_http(gnad_client: TestClient) -> None:
    data = gnad_client.get("/articles/gnad-0010/similar", params={"limit": 5}).json()
    ids = [h["id"] for h in data["hits"]]
    assert len(set(ids)) == 5 and "gnad-0010" not in ids
    assert gnad_client.get("/articles/gnad-0010").json()["id"] == "gnad-0010"
    assert gnad_client.get("/health").json()["articles"] == 1028


def test_seed_folder_exists_beside_the_shared_copy() -> None:
    shared_seed = SHARED / "seeds" / SEED_FILE.name
    assert Path(SEED_FILE).read_bytes() == shared_seed.read_bytes()
