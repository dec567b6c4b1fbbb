"""The web API: in-process through TestClient, and once over real HTTP with uvicorn."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import MAX_BODY_BYTES
from search.engine import Engine
from search.semantic.embedders import Embedder
from search.settings import Settings

from .conftest import SEED_ID, running_server

EVERYTHING = "Hegseth OR Brüssel OR Derby OR Börse OR Hitzewelle"
API_KEY = "s3cret-key"


@pytest.fixture(scope="module")
def client(tiny_index: Path) -> Iterator[TestClient]:
    """A read-only app on the shared index, with no API key configured."""
    with TestClient(create_app(Settings(index=tiny_index))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def writer(
    tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path], embedder: Embedder
) -> Iterator[TestClient]:
    """An app on its own index with an API key; tests write under their own ids."""
    path = tmp_path_factory.mktemp("api-writes") / "index"
    Engine.rebuild(tiny_sources, path, embedder=embedder)
    with TestClient(create_app(Settings(index=path, api_key=API_KEY))) as test_client:
        yield test_client


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["hits"]]


# -- search ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_search_returns_the_documented_shape(client: TestClient, mode: str) -> None:
    response = client.get("/search", params={"q": "Hegseth Brüssel", "mode": mode})
    assert response.status_code == 200
    data = response.json()
    assert {"query", "mode", "sort", "total", "next", "hits", "facets"} <= set(data)
    hit = data["hits"][0]
    assert {"id", "title", "date", "source", "snippet", "score", "scores"} <= set(hit)
    assert {"lexical", "semantic", "fused"} <= set(hit["scores"])
    if mode != "semantic":
        assert hit["id"] == SEED_ID


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"from": "2025-02", "to": "2025-03"}, {SEED_ID, "eu-gipfel"}),
        ({"from": "2025-03-20"}, {"eu-gipfel", "fussball"}),
        ({"to": "2024"}, {"klima"}),
        ({"from": "2025-01-25T00:00:00", "to": "2025-01-25"}, {"hegseth-pentagon"}),
        ({"source": "test", "category": "politik"}, {"eu-gipfel", "hegseth-pentagon"}),
        ({"category": ["sport", "wirtschaft"]}, {"fussball", "boerse"}),
        ({"language": "DE", "to": "2024-12"}, {"klima"}),
        ({"source": "nowhere"}, set()),
    ],
)
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_filters_narrow_the_matches(
    client: TestClient, mode: str, params: dict[str, object], expected: set[str]
) -> None:
    response = client.get("/search", params={"q": EVERYTHING, "mode": mode, **params})
    assert set(_ids(response)) == expected
    assert response.json()["total"] == len(expected)


def test_a_filtered_semantic_search_returns_every_match_that_passes(client: TestClient) -> None:
    params = {"q": "Fußball im Stadion", "mode": "semantic"}
    every = client.get("/search", params={**params, "limit": 100}).json()
    assert every["total"] == len(every["hits"]) > 0
    for category in {h["category"] for h in every["hits"]}:
        narrowed = client.get("/search", params={**params, "category": category}).json()
        expected = [h["id"] for h in every["hits"] if h["category"] == category]
        assert narrowed["total"] == len(expected)
        assert {h["id"] for h in narrowed["hits"]} == set(expected[:10])


def test_facets_count_every_match_not_just_the_page(client: TestClient) -> None:
    params = {"q": EVERYTHING, "mode": "lexical"}
    page = client.get("/search", params={**params, "limit": 1}).json()
    hits = client.get("/search", params={**params, "limit": 100}).json()["hits"]
    assert len(page["hits"]) == 1 and page["total"] == len(hits) == 6
    facets = page["facets"]
    for name in ("source", "language", "category"):
        expected = Counter(hit[name] for hit in hits if hit[name])
        assert {c["value"]: c["count"] for c in facets[name]} == expected, name
        counts = [c["count"] for c in facets[name]]
        assert counts == sorted(counts, reverse=True)
    # Month facets read as a timeline: in time order; the year-only "2025" is not counted.
    months = Counter(hit["date"][:7] for hit in hits if len(hit["date"]) >= 7)
    assert [(c["value"], c["count"]) for c in facets["month"]] == sorted(months.items())
    assert [c["value"] for c in facets["month"]] == [
        "2024-07",
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
    ]
    assert {"value": "politik", "count": 2} in facets["category"]
    assert client.get("/search", params={"q": "x", "facets": False}).json()["facets"] is None


@pytest.mark.parametrize("mode", ["lexical", "hybrid", "semantic"])
def test_sort_by_date(client: TestClient, mode: str) -> None:
    newest = client.get("/search", params={"q": EVERYTHING, "mode": mode, "sort": "date"})
    oldest = client.get("/search", params={"q": EVERYTHING, "mode": mode, "sort": "date_asc"})
    assert _ids(newest)[0] == "fussball" and _ids(newest)[-1] == "klima"
    assert _ids(oldest) == list(reversed(_ids(newest)))
    assert newest.json()["sort"] == "date"


def test_offset_pages_add_up_to_the_whole_list(client: TestClient) -> None:
    whole = _ids(client.get("/search", params={"q": EVERYTHING, "limit": 100}))
    pages = [
        _ids(client.get("/search", params={"q": EVERYTHING, "limit": 4, "offset": offset}))
        for offset in (0, 4, 8)
    ]
    assert [hit for page in pages for hit in page] == whole and len(whole) == 6


@pytest.mark.parametrize("mode", ["lexical", "hybrid", "semantic"])
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_a_cursor_pages_through_every_match(client: TestClient, mode: str, sort: str) -> None:
    params: dict[str, object] = {"q": EVERYTHING, "mode": mode, "sort": sort, "limit": 2}
    whole = _ids(client.get("/search", params={**params, "limit": 100}))
    seen: list[str] = []
    page = client.get("/search", params=params).json()
    while True:
        seen += [hit["id"] for hit in page["hits"]]
        if page["next"] is None:
            break
        page = client.get("/search", params={**params, "cursor": page["next"]}).json()
    assert seen == whole


def test_a_cursor_is_bound_to_its_query_and_cannot_be_edited(client: TestClient) -> None:
    cursor = client.get("/search", params={"q": EVERYTHING, "limit": 2}).json()["next"]
    other = client.get("/search", params={"q": "Derby", "cursor": cursor})
    assert other.status_code == 400 and "another query" in other.json()["error"]["message"]
    filtered = client.get("/search", params={"q": EVERYTHING, "cursor": cursor, "to": "2025"})
    assert filtered.status_code == 400
    edited = client.get("/search", params={"q": EVERYTHING, "cursor": cursor[:-3] + "AAA"})
    assert edited.status_code == 400 and "cursor" in edited.json()["error"]["message"]
    both = client.get("/search", params={"q": EVERYTHING, "cursor": cursor, "offset": 2})
    assert both.status_code == 400 and "offset or cursor" in both.json()["error"]["message"]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_export_streams_every_match_as_json_lines(client: TestClient, mode: str) -> None:
    params = {"q": EVERYTHING, "mode": mode, "category": ["politik", "sport"]}
    with client.stream("GET", "/search/export", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        rows = [json.loads(line) for line in response.iter_lines() if line]
    assert [r["id"] for r in rows] == _ids(client.get("/search", params=params))
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert "Pentagon" in next(r["body"] for r in rows if r["id"] == "hegseth-pentagon")


def test_export_reports_a_bad_strict_query_before_streaming(client: TestClient) -> None:
    response = client.get("/search/export", params={"q": '"Hegseth', "syntax": "strict"})
    assert response.status_code == 400 and "quote" in response.json()["error"]["message"]


# -- articles and similar ---------------------------------------------------------------------


def test_article_and_similar(client: TestClient) -> None:
    article = client.get(f"/articles/{SEED_ID}").json()
    assert article["date"] == "2025-02" and "Hegseth" in article["body"]
    similar = client.get(f"/articles/{SEED_ID}/similar", params={"limit": 3}).json()
    assert len(similar["hits"]) == 3 and SEED_ID not in [h["id"] for h in similar["hits"]]


def test_similar_takes_the_search_filters(client: TestClient) -> None:
    params = {"category": "sport", "limit": 5}
    assert _ids(client.get(f"/articles/{SEED_ID}/similar", params=params)) == ["fussball"]
    dated = client.get(f"/articles/{SEED_ID}/similar", params={"from": "2025-02"})
    assert set(_ids(dated)) == {"eu-gipfel", "fussball"}


def test_similar_to_a_posted_text(client: TestClient) -> None:
    response = client.post("/similar", json={"text": "Hitze und Waldbrände im Sommer"})
    assert _ids(response)[0] == "klima"
    narrowed = client.post("/similar", json={"text": "Hitze", "to": "2024", "limit": 5})
    assert _ids(narrowed) == ["klima"]


def test_health_and_stats(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["articles"] == 6
    assert health["model"] == "use-multilingual-v3" and health["generation"].startswith("gen-")
    stats = client.get("/stats").json()
    assert stats["articles"] == 6 and stats["generation"] == health["generation"]
    assert stats["passage_count"] >= 6 and stats["dim"] == 512
    assert {"value": "2025-02", "count": 1} in stats["facets"]["month"]
    assert stats["facets"]["category"][0] == {"value": "politik", "count": 2}


# -- writes ---------------------------------------------------------------------------------


def test_writes_are_refused_without_a_configured_key(client: TestClient) -> None:
    for key in (None, API_KEY):
        headers = {"X-API-Key": key} if key else {}
        posted = client.post("/articles", json={"id": "x", "text": "Text"}, headers=headers)
        deleted = client.delete(f"/articles/{SEED_ID}", headers=headers)
        for response in (posted, deleted):
            assert response.status_code == 403
            assert "no API key" in response.json()["error"]["message"]
    assert client.get(f"/articles/{SEED_ID}").status_code == 200


def test_writes_need_the_right_key(writer: TestClient) -> None:
    article = {"id": "auth-test", "text": "Ein Artikel über Schlüssel."}
    missing = writer.post("/articles", json=article)
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["error"]["message"]
    wrong = writer.post("/articles", json=article, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 403 and wrong.json()["error"]["message"] == "wrong API key"
    assert writer.delete(f"/articles/{SEED_ID}").status_code == 401
    assert writer.get("/articles/auth-test").status_code == 404


def test_posted_articles_are_searchable_when_the_call_returns(writer: TestClient) -> None:
    key = {"X-API-Key": API_KEY}
    one = {
        "id": "vulkan",
        "title": "Vulkanausbruch auf Island",
        "text": "Auf Island ist ein Vulkan ausgebrochen; Lava fließt Richtung Grindavík.",
        "date": "2025-05-02",
        "source": "apa",
        "category": "chronik",
    }
    response = writer.post("/articles", json=one, headers=key)
    assert response.status_code == 200 and response.json()["upserted"] == ["vulkan"]
    generation = response.json()["generation"]
    assert writer.get("/health").json()["generation"] == generation
    assert _ids(writer.get("/search", params={"q": "Vulkan Island"}))[0] == "vulkan"
    assert _ids(writer.get("/search", params={"q": "volcano eruption", "mode": "semantic"}))[0] == (
        "vulkan"
    )

    many = [
        {"id": "vulkan", "text": "Der Vulkan auf Island ist wieder ruhig.", "source": "apa"},
        {"id": "lawine", "text": "Eine Lawine verschüttet eine Straße in Tirol.", "date": "2025"},
        {"id": 42, "text": "Eine Zahl als Kennung."},
    ]
    response = writer.post("/articles", json=many, headers=key)
    assert response.status_code == 200
    assert response.json()["upserted"] == ["vulkan", "lawine", "42"]
    replaced = writer.get("/articles/vulkan").json()
    assert (
        replaced["body"] == "Der Vulkan auf Island ist wieder ruhig." and replaced["date"] is None
    )
    assert _ids(writer.get("/search", params={"q": "Lawine", "source": "nowhere"})) == []
    assert _ids(writer.get("/search", params={"q": "Lawine Tirol", "mode": "lexical"})) == [
        "lawine"
    ]


def test_delete_removes_an_article_from_both_sides(writer: TestClient) -> None:
    key = {"X-API-Key": API_KEY}
    body = {"id": "kurzlebig", "text": "Ein Zeppelin landet am Flughafen Schwechat."}
    assert writer.post("/articles", json=body, headers=key).status_code == 200
    assert _ids(writer.get("/search", params={"q": "Zeppelin", "mode": "lexical"})) == ["kurzlebig"]
    response = writer.delete("/articles/kurzlebig", headers=key)
    assert response.status_code == 200 and response.json()["deleted"] == ["kurzlebig"]
    assert writer.get("/articles/kurzlebig").status_code == 404
    assert _ids(writer.get("/search", params={"q": "Zeppelin", "mode": "lexical"})) == []
    semantic = _ids(writer.get("/search", params={"q": "airship lands", "mode": "semantic"}))
    assert "kurzlebig" not in semantic
    again = writer.delete("/articles/kurzlebig", headers=key)
    assert again.status_code == 404 and "kurzlebig" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ({"id": "leer"}, "body.article", "no text"),
        ({"id": "a/b", "text": "Text"}, "body.article.id", "pattern"),
        ({"id": True, "text": "Text"}, "body.article.id", "valid string"),
        ({"id": "x", "text": "  "}, "body.article.text", "pattern"),
        ({"guid": 5.5, "text": "Text"}, "body.article", "'guid' must be"),
        ({"id": "x", "text": 5}, "body.article.text", "valid string"),
        ([{"id": "ok", "text": "A"}, {"id": "x", "title": "B"}], "body.articles.1", "no text"),
        ([{"id": "d", "text": "A"}, {"id": "d", "text": "B"}], "body.articles.1", "duplicate"),
        ([], "body.articles", "at least 1"),
        ("Text", "body.article", "valid dictionary"),
    ],
)
def test_invalid_articles_are_422_naming_the_field(
    writer: TestClient, body: object, where: str, problem: str
) -> None:
    response = writer.post("/articles", json=body, headers={"X-API-Key": API_KEY})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert any(d["where"] == where and problem in d["problem"] for d in error["detail"]), error
    assert writer.get("/articles/x").status_code == 404


def test_bodies_over_the_limit_are_413(writer: TestClient) -> None:
    key = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
    oversized = b'{"id": "big", "text": "' + b"x" * MAX_BODY_BYTES + b'"}'
    declared = writer.post("/articles", content=oversized, headers=key)
    chunks = (oversized[i : i + (1 << 20)] for i in range(0, len(oversized), 1 << 20))
    streamed = writer.post("/articles", content=chunks, headers=key)
    for response in (declared, streamed):
        assert response.status_code == 413
        assert "larger than" in response.json()["error"]["message"]
    assert writer.get("/articles/big").status_code == 404


# -- markup, errors, documentation ---------------------------------------------------------


def test_article_markup_is_inert_in_snippets(writer: TestClient) -> None:
    body = {
        "id": "xss",
        "title": "Skript <b>fett</b>",
        "text": 'Ein <script>alert("x")</script> Angriff <img src=x onerror=alert(1)> hier.',
    }
    assert writer.post("/articles", json=body, headers={"X-API-Key": API_KEY}).status_code == 200
    hit = writer.get("/search", params={"q": "Angriff", "mode": "lexical"}).json()["hits"][0]
    assert hit["id"] == "xss"
    snippet = hit["snippet"]
    assert "<script" not in snippet and "<img" not in snippet
    assert "&lt;/script&gt;" in snippet and "<mark>Angriff</mark>" in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/search", {"q": '"Hegseth', "syntax": "strict"}, 400, "unclosed quote"),
        ("/search", {"q": "autor:x", "syntax": "strict"}, 400, "unknown field"),
        ("/search", {"q": "x", "syntax": "loose"}, 422, "syntax"),
        ("/search", {"q": "x", "from": "yesterday"}, 422, "query.from:"),
        ("/search", {"q": "x", "to": "2025-13"}, 422, "query.to:"),
        ("/search", {"q": "x", "from": "2025-03", "to": "2025-02"}, 422, "after"),
        ("/search", {"q": "x", "cursor": "not-a-cursor"}, 400, "cursor"),
        ("/articles/nope", {}, 404, "nope"),
        ("/articles/nope/similar", {}, 404, "nope"),
        ("/search", {"q": "x", "limit": 500}, 422, "limit"),
        ("/search", {"q": "x", "limit": 0}, 422, "limit"),
        ("/search", {"q": "x", "mode": "fuzzy"}, 422, "mode"),
        ("/search", {"q": "x", "sort": "random"}, 422, "sort"),
        ("/search", {}, 422, "q"),
        ("/nowhere", {}, 404, "Not Found"),
    ],
)
def test_errors_share_one_json_shape(
    client: TestClient, path: str, params: dict[str, object], status: int, message: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == status and message in error["message"]


def test_posting_broken_json_is_422(writer: TestClient) -> None:
    response = writer.post(
        "/similar", content=b'{"text": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["error"]["status"] == 422


def test_openapi_documents_endpoints_errors_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/search",
        "/search/export",
        "/similar",
        "/articles",
        "/articles/{article_id}",
        "/articles/{article_id}/similar",
        "/health",
        "/stats",
    } <= set(paths)
    assert {"400", "422"} <= set(paths["/search"]["get"]["responses"])
    assert {"401", "403", "413", "422"} <= set(paths["/articles"]["post"]["responses"])
    schemas = spec["components"]["schemas"]
    assert schemas["SearchOut"]["examples"] and schemas["ArticleIn"]["examples"]
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200


# -- over real HTTP --------------------------------------------------------------------------


def test_news_search_serve_answers_over_real_http(tiny_index: Path) -> None:
    with running_server(tiny_index) as base:
        response = httpx.get(f"{base}/search", params={"q": "Hegseth Brüssel"}, timeout=10)
        assert response.status_code == 200 and response.json()["hits"][0]["id"] == SEED_ID
        assert httpx.get(f"{base}/articles/nope", timeout=10).status_code == 404
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "/static/app.js" in page.text
        assert httpx.get(f"{base}/static/app.js", timeout=10).status_code == 200


@pytest.mark.parametrize("fusion", ["zscore", "minmax", "rrf"])
def test_every_fusion_is_selectable(client: TestClient, fusion: str) -> None:
    data = client.get("/search", params={"q": "Hegseth Brüssel", "fusion": fusion}).json()
    assert data["hits"][0]["id"] == SEED_ID
    assert client.get("/search", params={"q": "x", "fusion": "borda"}).status_code == 422
