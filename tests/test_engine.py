"""The engine end to end on a real Whoosh index, real FAISS vectors and the real USE model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.engine import Engine
from search.errors import ArticleNotFound, IndexNotBuilt, InputError, QueryError
from search.semantic.embedders import Embedder

from .conftest import SEED_ID, TINY_ARTICLES


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_hegseth_bruessel_finds_the_seed_first(engine: Engine, mode: str) -> None:
    results = engine.search("Hegseth Brüssel", mode=mode)  # type: ignore[arg-type]
    assert results.hits[0].id == SEED_ID
    assert results.mode == mode


def test_hegseth_bruessel_semantic_ranks_the_seed_near_a_brussels_summit(engine: Engine) -> None:
    # "EU-Gipfel in Brüssel" is a fair semantic rival; the seed must stay beside it.
    hits = [h.id for h in engine.search("Hegseth Brüssel", mode="semantic").hits]
    assert SEED_ID in hits[:2]


def test_hybrid_hits_explain_both_sides(engine: Engine) -> None:
    top = engine.search("Hegseth Brüssel").hits[0]
    assert top.scores.lexical is not None and top.scores.lexical > 0
    assert top.scores.semantic is not None and 0 < top.scores.semantic <= 1
    assert top.scores.fused == top.score
    assert top.scores.lexical_rank == 1 and top.scores.semantic_rank in (1, 2)
    assert "<mark>Hegseth</mark>" in top.snippet and "<mark>Brüssel</mark>" in top.snippet


def test_single_modes_leave_the_other_side_empty(engine: Engine) -> None:
    lexical = engine.search("Hegseth", mode="lexical").hits[0].scores
    semantic = engine.search("Hegseth", mode="semantic").hits[0].scores
    assert lexical.semantic is None and lexical.fused is None and lexical.lexical is not None
    assert semantic.lexical is None and semantic.fused is None and semantic.semantic is not None


def test_articles_with_every_word_rank_first_but_one_missing_word_still_finds(
    engine: Engine,
) -> None:
    # "Pentagon" occurs only in hegseth-pentagon, "Brüssel" in the seed and eu-gipfel.
    hits = [h.id for h in engine.search("Hegseth Pentagon", mode="lexical").hits]
    assert hits[0] == "hegseth-pentagon" and SEED_ID in hits
    hits = [h.id for h in engine.search("Brüssel Zauberwort", mode="lexical").hits]
    assert set(hits) == {SEED_ID, "eu-gipfel"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"Pete Hegseth"', {SEED_ID, "hegseth-pentagon"}),
        ("Hegseth NOT Pentagon", {SEED_ID}),
        ("title:Derby", {"fussball"}),
        ("Börs*", {"boerse"}),
        ("Hitzewelle OR Derby", {"klima", "fussball"}),
        ("date:2025-04", {"fussball"}),
        ("Ukrainekrieg", {SEED_ID}),
    ],
)
def test_the_whoosh_query_language(engine: Engine, query: str, expected: set[str]) -> None:
    assert {h.id for h in engine.search(query, mode="lexical").hits} == expected


def test_cross_lingual_semantic_search(engine: Engine) -> None:
    hits = engine.search("heat wave and forest fires in southern Europe", mode="semantic").hits
    assert hits[0].id == "klima"


def test_paging_and_total(engine: Engine) -> None:
    everything = engine.search("Brüssel OR Derby OR Börse", mode="lexical", limit=10)
    page = engine.search("Brüssel OR Derby OR Börse", mode="lexical", limit=1, offset=1)
    assert everything.total == 4 and page.total == 4
    assert [h.id for h in page.hits] == [everything.hits[1].id]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"mode": "fuzzy"}, "mode"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "5"}, "limit"),
    ],
)
def test_bad_search_parameters(engine: Engine, kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        engine.search("Hegseth", **kwargs)  # type: ignore[arg-type]


def test_snippets_escape_article_html(writable_engine: Engine) -> None:
    from search.ingest.article import Article

    writable_engine.write(
        [
            Article(
                id="xss",
                title="Skript",
                body="Ein <script>alert(1)</script> Angriff auf die Redaktion.",
            )
        ]
    )
    snippet = writable_engine.search("Angriff", mode="lexical").hits[0].snippet
    assert "<script" not in snippet and "&lt;/script&gt;" in snippet
    assert "<mark>Angriff</mark>" in snippet


def test_similar_by_id_never_returns_itself(engine: Engine) -> None:
    results = engine.similar(article_id=SEED_ID, limit=5)
    ids = [h.id for h in results.hits]
    assert SEED_ID not in ids and len(ids) == 5
    assert ids[0] in {"hegseth-pentagon", "eu-gipfel"}


def test_similar_by_text(engine: Engine) -> None:
    assert engine.similar(text="Fußballspiel in Wien").hits[0].id == "fussball"


def test_similar_needs_exactly_one_of_id_and_text(engine: Engine) -> None:
    with pytest.raises(QueryError):
        engine.similar()
    with pytest.raises(ArticleNotFound):
        engine.similar(article_id="nope")


def test_get_returns_the_stored_article(engine: Engine) -> None:
    article = engine.get("klima")
    assert article.title == "Hitzewelle in Europa" and article.date == "2024-07-15"
    with pytest.raises(ArticleNotFound, match="nope"):
        engine.get("nope")


def test_index_survives_reopening(tiny_index: Path, embedder: Embedder) -> None:
    reopened = Engine(tiny_index, embedder=embedder)
    assert reopened.search("Hegseth Brüssel").hits[0].id == SEED_ID
    assert reopened.stats()["articles"] == len(TINY_ARTICLES) + 1


def test_opening_an_empty_folder_says_to_rebuild(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuilt, match="rebuild"):
        Engine(tmp_path)


def test_a_rebuild_with_no_valid_article_keeps_the_old_index(
    writable_engine: Engine, tmp_path: Path, embedder: Embedder
) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1\n', encoding="utf-8")
    with pytest.raises(InputError, match="no valid article"):
        Engine.rebuild([broken], writable_engine.folder.path, embedder=embedder)
    assert Engine(writable_engine.folder.path).search("Hegseth").total >= 1


def test_add_replaces_by_id_and_delete_removes_from_both_sides(
    writable_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "new.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "klima",
                "title": "Kältewelle",
                "text": "Ein Kälteeinbruch bringt Schnee nach Wien.",
            }
        )
        + "\n"
        + json.dumps({"id": "neu", "text": "Ein Vulkan ist auf Island ausgebrochen."}),
        encoding="utf-8",
    )
    report = writable_engine.add_files([path])
    assert report.stats.articles == 2 and not report.rejected
    assert writable_engine.get("klima").title == "Kältewelle"
    assert writable_engine.search("Vulkan Island", mode="hybrid").hits[0].id == "neu"
    assert writable_engine.search("volcano eruption", mode="semantic").hits[0].id == "neu"
    assert writable_engine.delete(["neu", "gibt-es-nicht"]) == 1
    assert "neu" not in {h.id for h in writable_engine.search("Vulkan", mode="hybrid").hits}
    assert writable_engine.stats()["articles"] == len(TINY_ARTICLES) + 1


def test_a_second_engine_sees_writes_of_the_first(
    writable_engine: Engine, embedder: Embedder
) -> None:
    from search.ingest.article import Article

    reader = Engine(writable_engine.folder.path, embedder=embedder)
    assert reader.search("Vulkan", mode="lexical").total == 0
    writable_engine.write([Article(id="neu", body="Ein Vulkan ist auf Island ausgebrochen.")])
    assert reader.search("Vulkan", mode="lexical").hits[0].id == "neu"
    assert reader.search("Vulkan Island", mode="semantic").hits[0].id == "neu"


def test_coverage_is_the_share_of_keywords_an_article_holds(engine: Engine) -> None:
    lexical = engine._current().lexical
    parsed = lexical.parser.parse("Hegseth Pentagon Hitzewelle")
    assert lexical.coverage(parsed, "hegseth-pentagon") == pytest.approx(2 / 3)
    assert lexical.coverage(parsed, "klima") == pytest.approx(1 / 3)
    assert lexical.coverage(parsed, "fussball") == 0.0
    assert lexical.coverage(parsed, "no-such-article") == 0.0
    # Written logic is taken as written: every match holds all of it.
    assert lexical.coverage(lexical.parser.parse("Hegseth OR Derby"), "fussball") == 1.0
