"""``serve --workers``: several serving processes on one socket, one index."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from search.engine import Engine
from search.semantic.embedders import Embedder

from .conftest import command_lines, running_server

KEY = "workers-key"


def _serving(index: Path) -> list[int]:
    """The processes serving ``index``: the parent and its workers."""
    return [
        pid
        for pid, line in command_lines().items()
        if {b"serve", str(index).encode()} <= set(line.split(b"\0"))
    ]


@pytest.mark.slow
def test_two_workers_answer_on_one_port_and_see_each_others_writes(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    index = tmp_path / "index"
    Engine.rebuild(tiny_sources, index, embedder=embedder)
    with running_server(index, "--workers", "2", env={"NEWS_SEARCH_API_KEY": KEY}) as base:
        assert len(_serving(index)) == 3  # the parent that loaded the index, two workers
        article = {"id": "w-1", "title": "Neuer Bericht", "text": "Ein Text.", "date": "2024-05-06"}
        posted = httpx.post(f"{base}/articles", json=article, headers={"X-API-Key": KEY})
        assert posted.status_code in (200, 201), posted.text
        # New connections land on either worker; each must see the write.
        for _ in range(12):
            with httpx.Client() as client:
                assert client.get(f"{base}/articles/w-1").status_code == 200
                found = client.get(f"{base}/search", params={"q": "Neuer Bericht"}).json()
                assert found["shards"]["failed"] == 0
                assert "w-1" in [hit["id"] for hit in found["hits"]]
    assert not [pid for pid in _serving(index) if os.path.exists(f"/proc/{pid}")]
