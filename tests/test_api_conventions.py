"""The HTTP conventions integrators expect: HEAD, CORS, ETags, gzip, request ids,
field selection, facet size, and one status for every invalid parameter."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from search.engine import Engine
from search.semantic.embedders import Embedder
from search.settings import Settings

from .conftest import SEED_ID

EVERYTHING = "Hegseth OR Brüssel OR Derby OR Börse OR Hitzewelle"
ORIGIN = "https://newsroom.example"


@pytest.fixture(scope="module")
def client(tiny_index: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(index=tiny_index))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def cors_client(tiny_index: Path) -> Iterator[TestClient]:
    settings = Settings(index=tiny_index, cors_origins=(ORIGIN,))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "path", ["/health", "/stats", f"/articles/{SEED_ID}", "/search?q=Hegseth", "/", "/docs"]
)
def test_head_answers_every_get_without_a_body(client: TestClient, path: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


def test_cors_is_off_by_default_and_on_for_a_configured_origin(
    client: TestClient, cors_client: TestClient
) -> None:
    plain = client.get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in plain.headers
    allowed = cors_client.get("/health", headers={"Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = cors_client.get("/health", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = cors_client.options(
        "/search",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert client.options("/search", headers={"Origin": ORIGIN}).status_code == 405
    refused = cors_client.options(
        "/search",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    assert refused.status_code == 400 and "origin" in refused.json()["error"]["message"]


@pytest.mark.parametrize("path", [f"/articles/{SEED_ID}", "/search?q=Hegseth&mode=lexical"])
def test_a_repeated_get_with_if_none_match_is_304(client: TestClient, path: str) -> None:
    first = client.get(path)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    stale = client.get(path, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.json() == first.json()


def test_large_answers_are_gzipped_when_asked(client: TestClient) -> None:
    params = {"q": EVERYTHING, "mode": "lexical", "limit": 10}
    asked = client.get("/search", params=params, headers={"Accept-Encoding": "gzip"})
    assert asked.headers["content-encoding"] == "gzip"
    assert asked.json()["total"] >= 5  # httpx decodes it
    raw = client.get("/search", params=params, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(raw.content) > len(gzip.compress(raw.content))


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    made = client.get("/health").headers["x-request-id"]
    assert len(made) == 32
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    for response in (
        client.get("/nowhere"),
        client.get("/search", params={"q": "x", "limit": 0}),
        client.head("/health"),
        client.get(f"/articles/{SEED_ID}", headers={"If-None-Match": "*"}),
    ):
        assert response.headers["x-request-id"], response
    odd = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert odd.headers["x-request-id"] != "bad id\twith spaces"


def test_hits_carry_url_and_how_they_matched(client: TestClient) -> None:
    hit = client.get("/search", params={"q": "Hegseth Brüssel"}).json()["hits"][0]
    assert "url" in hit and hit["matched"] in {"keywords", "meaning", "both"}


def test_fields_choose_what_hits_carry(client: TestClient) -> None:
    for fields in (["title,date"], ["title", "date"]):
        data = client.get("/search", params={"q": "Hegseth", "fields": fields}).json()
        assert data["hits"] and all(set(h) == {"id", "title", "date"} for h in data["hits"])
        assert "facets" in data and "total" in data
    bad = client.get("/search", params={"q": "Hegseth", "fields": "title,body"})
    assert bad.status_code == 422
    assert bad.json()["error"]["detail"][0]["where"] == "query.fields"


def test_facet_size_bounds_each_facet(client: TestClient) -> None:
    params = {"q": EVERYTHING, "mode": "lexical", "facet_size": 1}
    facets = client.get("/search", params=params).json()["facets"]
    assert len(facets["category"]) == 1 and facets["category"][0]["value"] == "politik"
    assert facets["timeline"]["unit"] in {"day", "month", "year"}
    assert client.get("/search", params={**params, "facet_size": 0}).status_code == 422


def test_export_honours_limit(client: TestClient) -> None:
    params = {"q": EVERYTHING, "mode": "lexical"}
    every = client.get("/search/export", params=params).text.splitlines()
    assert len(every) >= 5
    two = client.get("/search/export", params={**params, "limit": 2}).text.splitlines()
    assert [json.loads(line)["id"] for line in two] == [json.loads(x)["id"] for x in every[:2]]
    assert client.get("/search/export", params={**params, "limit": 0}).status_code == 422


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2025-13"}, "to"),
        ({"limit": "ten"}, "limit"),
        ({"limit": 500}, "limit"),
        ({"catgory": "politik"}, "catgory"),
    ],
)
def test_an_invalid_parameter_is_one_422_naming_it_in_get_and_post(
    client: TestClient, bad: dict[str, object], where: str
) -> None:
    got = client.get("/search", params={"q": "Hegseth", **bad})
    posted = client.post("/similar", json={"text": "Hegseth", **bad})
    for response, place in ((got, "query"), (posted, "body")):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["status"] == 422
        assert any(d["where"] == f"{place}.{where}" for d in error["detail"]), error
        assert where in error["message"]


def test_openapi_documents_every_422_in_the_product_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"].get("422")
            if answer is not None:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, method)
    assert "422" in spec["paths"]["/articles/{article_id}"]["delete"]["responses"]


def test_docs_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "//cdn" not in page
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    redoc = client.get("/redoc").text
    assert "/docs-assets/redoc.standalone.js" in redoc and "googleapis" not in redoc


def test_an_unexpected_error_keeps_its_request_id(tiny_index: Path) -> None:
    app = create_app(Settings(index=tiny_index))
    with TestClient(app, raise_server_exceptions=False) as broken:

        def fail() -> dict[str, object]:
            raise RuntimeError("a bug")

        app.state.engine.stats = fail
        response = broken.get("/stats", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert response.json()["error"]["status"] == 500 and "a bug" not in response.text


def test_a_write_changes_the_etag(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    index = tmp_path / "index"
    Engine.rebuild(tiny_sources, index, embedder=embedder)
    key = {"X-API-Key": "etag-key"}
    article = {"id": "etag", "title": "Erste Fassung", "text": "Der Stadtrat tagte lange."}
    with TestClient(create_app(Settings(index=index, api_key="etag-key"))) as writer:
        assert writer.post("/articles", json=article, headers=key).status_code == 200
        first = writer.get("/articles/etag").headers["etag"]
        assert writer.get("/articles/etag", headers={"If-None-Match": first}).status_code == 304
        changed = {**article, "title": "Zweite Fassung"}
        assert writer.post("/articles", json=changed, headers=key).status_code == 200
        again = writer.get("/articles/etag", headers={"If-None-Match": first})
    assert again.status_code == 200 and again.json()["title"] == "Zweite Fassung"
    assert again.headers["etag"] != first
