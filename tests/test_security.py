"""Secrets stay secret: keys off the command line and out of files and responses; reads
can be closed; nothing in a response says where or by whom the index is kept."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from search.cli import main
from search.engine import Engine
from search.semantic.embedders import Embedder
from search.settings import Settings
from search.storage.folder import LOCK_FILE

from .conftest import SEED_ID, command_lines, running_server

KEY = "k3y-that-must-never-show-7f9a2c"


def test_serve_refuses_a_key_on_the_command_line(tiny_index: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--index", str(tiny_index), "--api-key", KEY])
    assert result.exit_code == 2
    assert "NEWS_SEARCH_API_KEY" in result.output and "--api-key-file" in result.output
    assert KEY not in result.output


def _everything_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.slow
def test_a_key_given_in_a_file_shows_nowhere(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    index = tmp_path / "index"
    Engine.rebuild(tiny_sources, index, embedder=embedder)
    key_file = tmp_path / "secrets" / "key"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n", encoding="utf-8")
    bodies: list[bytes] = []
    with running_server(index, "--api-key-file", str(key_file)) as base:
        assert not any(KEY.encode() in line for line in command_lines().values())
        article = {"id": "schnee", "title": "Schnee", "text": "Es hat geschneit.", "language": "de"}
        written = httpx.post(f"{base}/articles", json=article, headers={"X-API-Key": KEY})
        assert written.status_code == 200, written.text
        # A write while another writer holds the lock: 409 with Retry-After.
        holder = Engine(index, embedder=embedder)
        entered, leave = threading.Event(), threading.Event()

        def hold() -> None:
            with holder.folder.writer_lock():
                entered.set()
                leave.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        entered.wait(30)
        busy = httpx.post(f"{base}/articles", json=article, headers={"X-API-Key": KEY})
        leave.set()
        thread.join()
        assert busy.status_code == 409 and int(busy.headers["Retry-After"]) > 0
        for text in (str(os.getpid()), socket.gethostname(), str(index), "news-search"):
            assert text not in busy.text
        bodies.append(busy.content)
        requests = [
            ("GET", "/"),
            ("GET", "/health"),
            ("GET", "/stats"),
            ("GET", "/search?q=Schnee"),
            ("GET", "/search/export?q=Schnee"),
            ("GET", f"/articles/{SEED_ID}/similar"),
            ("GET", "/articles/gibt-es-nicht"),
            ("GET", "/openapi.json"),
            ("GET", "/search?q=%22unclosed"),
            ("POST", "/articles"),
            ("DELETE", "/articles/schnee"),
        ]
        for method, path in requests:
            bodies.append(
                httpx.request(method, base + path, headers={"X-API-Key": "wrong"}).content
            )
    for body in bodies:
        assert KEY.encode() not in body
        assert str(tmp_path).encode() not in body  # no absolute path of the index either
    assert KEY.encode() not in _everything_under(index)
    lock = index / LOCK_FILE
    assert set(json.loads(lock.read_text(encoding="utf-8"))) == {"pid", "host"}
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


def test_reads_are_open_until_a_read_key_closes_them(tiny_index: Path) -> None:
    with TestClient(create_app(Settings(index=tiny_index))) as client:
        assert client.get("/search", params={"q": "Derby"}).status_code == 200
    closed = Settings(index=tiny_index, api_key=KEY, read_key="reader")
    with TestClient(create_app(closed)) as client:
        refused = client.get("/search", params={"q": "Derby"})
        assert refused.status_code == 401 and refused.json()["error"]["status"] == 401
        assert client.get("/search/export", params={"q": "*"}).status_code == 401
        assert client.get("/stats").status_code == 401
        assert client.get("/health").status_code == 200  # probes stay open
        for key in ("reader", KEY):
            answer = client.get("/search", params={"q": "Derby"}, headers={"X-API-Key": key})
            assert answer.status_code == 200


def test_responses_name_no_path_and_the_page_ignores_the_host_header(tiny_index: Path) -> None:
    with TestClient(create_app(Settings(index=tiny_index))) as client:
        stats = client.get("/stats").json()
        assert stats["index"] == tiny_index.name and str(tiny_index) not in json.dumps(stats)
        page = client.get("/", headers={"Host": "attacker.example"}).text
        assert "attacker.example" not in page and 'src="/static/app.js"' in page


def test_the_query_log_can_be_turned_off() -> None:
    assert Settings.from_env({}).query_log
    assert not Settings.from_env({"NEWS_SEARCH_QUERY_LOG": "0"}).query_log
    assert (
        Settings.from_env({"NEWS_SEARCH_QUERY_LOG": "0"}).to_env()["NEWS_SEARCH_QUERY_LOG"] == "0"
    )


@pytest.mark.slow
def test_the_query_log_can_be_turned_off_on_a_real_server(tiny_index: Path, tmp_path: Path) -> None:
    word = "Quokkazaehlung"
    logs = {}
    for setting in ("1", "0"):
        log = tmp_path / f"server-{setting}.log"
        with running_server(tiny_index, env={"NEWS_SEARCH_QUERY_LOG": setting}, log=log) as base:
            assert httpx.get(f"{base}/search", params={"q": word}).status_code == 200
        logs[setting] = log.read_text(encoding="utf-8", errors="replace")
    assert word in logs["1"]  # the access log shows what was searched for ...
    assert word not in logs["0"] and "serving" in logs["0"]  # ... unless it is off
