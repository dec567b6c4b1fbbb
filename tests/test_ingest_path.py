"""One ingest path: ``add FILE``, ``add -`` and ``POST /articles`` store the same articles.

Records use the names CMS exports use (guid, headline, published, content, link);
one has no id and one an unreadable date, so the derived id and the warning are
compared too. Agency copies are grouped the same way on every path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from search.cli import main
from search.engine import Engine
from search.errors import WriterBusy
from search.ingest.article import Article
from search.semantic.embedders import Embedder
from search.settings import Settings

from .archives import COPY, STORY

KEY = "ingest-key"
RECORDS = [
    {
        "guid": "cms-1",
        "headline": "Solardächer für Schulen",
        "published": "05.07.2025",
        "content": STORY,
        "link": "https://kurier.example/solar",
        "source": "Kurier",
        "views": 1200,
    },
    {
        "guid": "cms-2",
        "headline": "Freistaat fördert Photovoltaik an Schulen",
        "pubDate": "Sun, 06 Jul 2025 09:00:00 +0200",
        "content": "(APA) " + COPY,
        "source": "Tagblatt",
    },
    {"headline": "Ohne Kennung", "text": "Ein Artikel ohne id, nur mit Text.", "date": "gestern"},
]
IDS = ("cms-1", "cms-2")


def _stored(engine: Engine) -> dict[str, Article]:
    return {a.id: a for a in engine.articles() if a.id.startswith(("cms-", "h-"))}


@pytest.fixture
def fresh(tmp_path: Path, tiny_sources: list[Path], embedder: Embedder) -> Path:
    index = tmp_path / "index"
    Engine.rebuild(tiny_sources, index, embedder=embedder)
    return index


def _add_file(index: Path, tmp_path: Path) -> str:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))
    result = CliRunner().invoke(main, ["add", str(path), "--index", str(index)])
    assert result.exit_code == 0, result.output
    return result.stderr


def _add_stdin(index: Path) -> str:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)
    result = CliRunner().invoke(main, ["add", "-", "--index", str(index)], input=lines)
    assert result.exit_code == 0, result.output
    return result.stderr


def _post(index: Path) -> str:
    with TestClient(create_app(Settings(index=index, api_key=KEY))) as client:
        response = client.post("/articles", json=RECORDS, headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text
    return "\n".join(response.json()["warnings"])


def test_add_stdin_and_post_store_the_same_articles(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    stored = []
    warnings = []
    for name, write in (
        ("file", lambda i: _add_file(i, tmp_path)),
        ("stdin", _add_stdin),
        ("api", _post),
    ):
        index = tmp_path / name
        Engine.rebuild(tiny_sources, index, embedder=embedder)
        warnings.append(write(index))
        stored.append(_stored(Engine(index, embedder=embedder)))
    assert stored[0] == stored[1] == stored[2]
    articles = stored[0]
    assert len(articles) == 3
    first, second = articles["cms-1"], articles["cms-2"]
    assert (first.title, first.date, first.url) == (
        "Solardächer für Schulen",
        "2025-07-05",
        "https://kurier.example/solar",
    )
    assert second.date == "2025-07-06T09:00:00+02:00"
    # The agency copy joins the story of the first article, on every path.
    assert (first.story, second.story) == (None, "cms-1")
    [undated] = [a for i, a in articles.items() if i.startswith("h-")]
    assert undated.date is None and undated.story is None
    assert all("date 'gestern' could not be read" in text for text in warnings), warnings
    # The summary table of `add` counts the agency copy it found.
    [row] = [line.split() for line in warnings[0].splitlines() if line.startswith("jsonl ")]
    assert (row[4], row[-1]) == ("3", "1"), row  # indexed, copies


def test_an_add_groups_a_copy_with_an_article_already_indexed(
    fresh: Path, embedder: Embedder
) -> None:
    engine = Engine(fresh, embedder=embedder)
    engine.write([Article(id="first", body=STORY, source="Kurier")])
    engine.write([Article(id="later", body="(dpa) " + COPY, source="Tagblatt")])
    assert engine.get("later").story == "first"
    columns = engine._current().lexical.columns()
    groups = columns.story_groups()
    assert [sorted(columns.ids[d] for d in docs) for docs in groups.values()] == [
        ["first", "later"]
    ]


def test_the_writer_lock_is_free_while_an_add_embeds(fresh: Path, embedder: Embedder) -> None:
    engine = Engine(fresh, embedder=embedder)
    held: list[bool] = []

    def articles() -> Iterator[Article]:  # read lazily, as the embedding reads them
        for n in range(3):
            held.append(_locked(engine))
            yield Article(id=f"lock-{n}", body=f"Artikel {n} über Graz.")

    engine.write(articles())
    assert held == [False, False, False]
    assert {f"lock-{n}" for n in range(3)} <= {a.id for a in engine.articles()}


def _locked(engine: Engine) -> bool:
    """Whether another writer would find the lock taken right now."""
    try:
        with engine.folder.writer_lock():
            return False
    except WriterBusy:
        return True
