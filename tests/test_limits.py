"""Query cost is bounded: capped term expansion, a time budget, list limits, admission.

The tests assert that the caps and the budget apply, never how long anything took
(bench/abuse.py measures that).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import MAX_FILTER_VALUES, AdmissionControl
from search.budget import Budget
from search.engine import Engine
from search.lexical import expansion
from search.lexical.bm25 import AllDocuments
from search.lexical.expansion import Expanded, bounded
from search.semantic.embedders import Embedder
from search.settings import Settings


def _nodes(q: object) -> list[object]:
    children = list(q.children())  # type: ignore[attr-defined]
    return [q, *(n for child in children for n in _nodes(child))]


def test_a_lone_star_is_every_article_without_reading_the_vocabulary(engine: Engine) -> None:
    lexical = engine._current().lexical
    parsed = lexical.parser.parse("*")
    rewritten = bounded(parsed.loose, lexical._current().reader(), Budget())
    kinds = {type(n) for n in _nodes(rewritten)}
    assert AllDocuments in kinds and not any(n.__class__.__name__ == "Every" for n in kinds)
    results = engine.search("*", mode="lexical", facets=False)
    assert results.total == engine.stats()["articles"] and not results.timed_out


def test_wildcards_expand_to_at_most_the_cap(engine: Engine) -> None:
    lexical = engine._current().lexical
    parsed = lexical.parser.parse("*e* *n*")
    uncapped = lexical.search(parsed, None, budget=Budget(max_expansions=10_000))
    budget = Budget(max_expansions=3)
    rewritten = bounded(parsed.loose, lexical._current().reader(), budget)
    expanded = [n for n in _nodes(rewritten) if isinstance(n, Expanded)]
    assert expanded and all(len(n.btexts) <= 3 for n in expanded)
    assert budget.expanded <= 3 * 12  # two patterns in six fields each
    assert any("stands for more than 3 terms" in notice for notice in budget.notices)
    capped = lexical.search(parsed, None, budget=Budget(max_expansions=3))
    assert {a for a, _ in capped.ranked} <= {a for a, _ in uncapped.ranked}


def test_the_whole_query_shares_one_allowance_of_terms(engine: Engine) -> None:
    lexical = engine._current().lexical
    parsed = lexical.parser.parse("*a* *e* *i*")
    budget = Budget(max_expansions=100, max_terms=36)
    rewritten = bounded(parsed.loose, lexical._current().reader(), budget)
    # 18 patterns (three words in six fields) share 36 terms: two each.
    assert all(len(n.btexts) <= 2 for n in _nodes(rewritten) if isinstance(n, Expanded))
    assert budget.expanded <= 36


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_a_search_past_its_budget_says_timed_out(
    tiny_index: Path, embedder: Embedder, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiny vocabulary is shorter than the stretch walked between two looks at the
    # clock; look after every term instead.
    monkeypatch.setattr(expansion, "CHECK_EVERY", 1)
    spent = Engine(tiny_index, embedder=embedder, search_seconds=0)
    results = spent.search("*e* OR Derby", mode=mode)  # type: ignore[arg-type]
    assert results.timed_out
    assert any("ran out of time" in notice for notice in results.notices)
    assert not Engine(tiny_index, embedder=embedder).search("*e*", mode=mode).timed_out  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client(tiny_index: Path) -> TestClient:
    with TestClient(create_app(Settings(index=tiny_index))) as test_client:
        yield test_client  # type: ignore[misc]


def test_filter_lists_have_a_documented_limit(client: TestClient) -> None:
    many = [f"s{i}" for i in range(MAX_FILTER_VALUES + 1)]
    response = client.get("/search", params={"q": "Derby", "source": many})
    assert response.status_code == 422 and "source" in response.json()["error"]["message"]
    over = {"text": "Derby", "source": many}
    assert client.post("/similar", json=over).status_code == 422
    huge = {"text": "Derby", "source": [str(i) for i in range(100_000)]}
    refused = client.post("/similar", json=huge)  # refused by size, before it is parsed
    assert refused.status_code == 413 and "larger than" in refused.json()["error"]["message"]
    fine = client.get("/search", params={"q": "Derby", "source": many[:MAX_FILTER_VALUES]})
    assert fine.status_code == 200


def test_wildcard_searches_over_http_answer(client: TestClient) -> None:
    response = client.get("/search", params={"q": "*", "mode": "lexical"})
    assert response.status_code == 200 and response.json()["total"] == 6
    body = client.get("/search", params={"q": "*e*", "mode": "hybrid"}).json()
    assert body["hits"] and body["timed_out"] is False


def test_expensive_requests_wait_in_a_bounded_line_and_health_answers(
    tiny_index: Path, engine: Engine
) -> None:
    app = create_app(Settings(index=tiny_index))
    app.state.engine = engine  # what the lifespan sets; the transport below runs none
    gate = AdmissionControl(app, max_active=1, max_waiting=0)
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        await release.wait()  # the request holds its slot until the body arrives
        yield b'{"text": "Derby"}'

    async def scenario() -> tuple[int, int, str | None, int]:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            headers = {"Content-Type": "application/json"}
            first = asyncio.create_task(http.post("/similar", content=slow_body(), headers=headers))
            await asyncio.sleep(0.2)
            refused = await http.post("/similar", json={"text": "Derby"})
            health = await http.get("/health")
            release.set()
            done = await first
            return (
                refused.status_code,
                health.status_code,
                refused.headers.get("retry-after"),
                (done.status_code),
            )

    refused, health, retry_after, first = asyncio.run(scenario())
    assert (refused, health, first) == (503, 200, 200)
    assert retry_after is not None and int(retry_after) > 0


def test_a_pattern_in_a_constraint_is_capped_too(engine: Engine) -> None:
    lexical = engine._current().lexical
    parsed = lexical.parser.parse("*e*")
    budget = Budget(max_expansions=2)
    with budget.spent_by_this_search():
        lexical.allowed([parsed.loose])
    assert 0 < budget.expanded <= 2 * 6
    assert any("stands for more than 2 terms" in notice for notice in budget.notices)


def test_a_slow_reader_of_an_export_holds_no_slot(tiny_index: Path, engine: Engine) -> None:
    app = create_app(Settings(index=tiny_index))
    app.state.engine = engine
    gate = AdmissionControl(app, max_active=1, max_waiting=0)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/search/export",
        "raw_path": b"/search/export",
        "query_string": b"q=*&mode=lexical",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }

    async def scenario() -> tuple[list[str], int]:
        reading = asyncio.Event()
        started: list[str] = []

        async def receive() -> dict[str, object]:
            if not started:
                started.append("request")
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never leaves
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            started.append(str(message["type"]))
            if message["type"] == "http.response.body":
                await reading.wait()  # a client that reads nothing yet

        export = asyncio.create_task(gate(scope, receive, send))  # type: ignore[arg-type]
        while "http.response.body" not in started:
            await asyncio.sleep(0.05)
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            status = (await http.get("/search", params={"q": "Derby"})).status_code
        reading.set()
        await export
        return started, status

    started, status = asyncio.run(scenario())
    assert "http.response.start" in started and status == 200
