"""The web API: in-process through TestClient, and once over real HTTP with uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from search.settings import Settings

from .conftest import SEED_ID


@pytest.fixture(scope="module")
def client(tiny_index: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(index=tiny_index))) as test_client:
        yield test_client


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_search_returns_the_documented_shape(client: TestClient, mode: str) -> None:
    response = client.get("/search", params={"q": "Hegseth Brüssel", "mode": mode})
    assert response.status_code == 200
    data = response.json()
    assert {"query", "mode", "total", "hits"} <= set(data)
    hit = data["hits"][0]
    assert {"id", "title", "date", "source", "snippet", "score", "scores"} <= set(hit)
    assert {"lexical", "semantic", "fused"} <= set(hit["scores"])
    if mode != "semantic":
        assert hit["id"] == SEED_ID


def test_search_paging(client: TestClient) -> None:
    first = client.get("/search", params={"q": "Brüssel OR Derby", "limit": 1}).json()
    second = client.get("/search", params={"q": "Brüssel OR Derby", "limit": 1, "offset": 1}).json()
    assert len(first["hits"]) == len(second["hits"]) == 1
    assert first["hits"][0]["id"] != second["hits"][0]["id"]


def test_article_and_similar(client: TestClient) -> None:
    article = client.get(f"/articles/{SEED_ID}").json()
    assert article["date"] == "2025-02" and "Hegseth" in article["body"]
    similar = client.get(f"/articles/{SEED_ID}/similar", params={"limit": 3}).json()
    assert len(similar["hits"]) == 3 and SEED_ID not in [h["id"] for h in similar["hits"]]


def test_health(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["articles"] == 6
    assert health["model"] == "use-multilingual-v3" and health["generation"].startswith("gen-")


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/search", {"q": '"Hegseth'}, 400, "unclosed quote"),
        ("/search", {"q": "autor:x"}, 400, "unknown field"),
        ("/articles/nope", {}, 404, "nope"),
        ("/articles/nope/similar", {}, 404, "nope"),
        ("/search", {"q": "x", "limit": 500}, 422, "limit"),
        ("/search", {"q": "x", "mode": "fuzzy"}, 422, "mode"),
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


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/search",
        "/articles/{article_id}",
        "/articles/{article_id}/similar",
        "/health",
    } <= set(paths)
    assert client.get("/docs").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_news_search_serve_answers_over_real_http(tiny_index: Path) -> None:
    port = _free_port()
    env = {**os.environ, "NEWS_SEARCH_API_KEY": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "search", "serve", "--index", str(tiny_index), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not come up in 60 s"
            time.sleep(0.3)
        response = httpx.get(f"{base}/search", params={"q": "Hegseth Brüssel"}, timeout=10)
        assert response.status_code == 200 and response.json()["hits"][0]["id"] == SEED_ID
        assert httpx.get(f"{base}/articles/nope", timeout=10).status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=20)
