"""A stream holds its generation: exports arrive whole while writes land, or end in an
error line the client sees, never as a clean short file."""

from __future__ import annotations

import gc
import json
import shutil
import threading
from pathlib import Path

import httpx
import pytest

from api.routes import _json_lines
from search.budget import Budget
from search.engine import Engine
from search.ingest.article import Article
from search.semantic.embedders import Embedder

from .conftest import TINY_ARTICLES, running_server

KEY = "stream-test-key"


def _article(n: int) -> Article:
    return Article(
        id=f"lawine-{n}",
        title=f"Lawine {n}",
        body=f"Eine Lawine hat in Tirol eine Straße verschüttet ({n}).",
        language="de",
    )


def _ids(rows: list[tuple[Article, object]]) -> list[str]:
    return [article.id for article, _ in rows]


def _in_thread(rows: object) -> list[tuple[Article, object]]:
    """The rest of an iterator, read on another thread (as a server streams it)."""
    out: list[tuple[Article, object]] = []
    reader = threading.Thread(target=lambda: out.extend(rows))  # type: ignore[call-overload]
    reader.start()
    reader.join()
    return out


def test_an_export_holds_its_generation_until_its_last_row(writable_engine: Engine) -> None:
    engine = writable_engine
    expected = _ids(list(engine.matches("*", mode="lexical")))
    old = engine.folder.path / engine.manifest.generation
    rows = engine.matches("*", mode="lexical")
    first = next(rows)
    for n in range(3):
        engine.write([_article(n)], deletes=[TINY_ARTICLES[n]["id"]])
    assert old.is_dir()  # the writes' cleanups left the generation the export reads
    assert [first[0].id, *_ids(_in_thread(rows))] == expected
    del rows, first
    gc.collect()
    engine.write([_article(9)])
    assert not old.exists()  # released with the export, so the next cleanup takes it


def test_a_stream_that_cannot_finish_ends_with_an_error_line(writable_engine: Engine) -> None:
    engine = writable_engine
    rows = engine.matches("*", mode="lexical")
    lines = _json_lines(rows, Budget())
    head = next(lines)
    # Something outside the index's rules removes the generation mid-stream.
    shutil.rmtree(engine.folder.path / engine.manifest.generation)
    rest = _in_thread(lines)  # a fresh thread opens the (now missing) files
    assert "id" in json.loads(head)
    assert rest, "the stream ended without saying why"
    last = json.loads(rest[-1])  # type: ignore[arg-type]
    assert set(last) == {"error"} and last["error"]["status"] >= 500
    assert all("id" in json.loads(line) for line in rest[:-1])  # type: ignore[arg-type]


@pytest.mark.slow
def test_six_exports_while_three_writes_land_all_arrive_whole(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    corpus = tmp_path / "more.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(_article(100 + n).to_dict(), ensure_ascii=False) for n in range(60)),
        encoding="utf-8",
    )
    index = tmp_path / "index"
    Engine.rebuild([*tiny_sources, corpus], index, embedder=embedder)
    params = {"q": "*", "mode": "lexical"}
    with running_server(index, env={"NEWS_SEARCH_API_KEY": KEY}) as base:

        def export() -> str:
            with httpx.stream("GET", f"{base}/search/export", params=params, timeout=60) as r:
                assert r.status_code == 200
                return "".join(r.iter_text())

        full = [export()]  # the whole export of each generation, before and after each write
        got: list[str] = []

        def writes() -> None:
            for n in range(3):
                article = _article(n).to_dict()
                body = {**article, "text": article.pop("body")}
                response = httpx.post(
                    f"{base}/articles", json=body, headers={"X-API-Key": KEY}, timeout=60
                )
                assert response.status_code == 200, response.text
                full.append(export())

        readers = [threading.Thread(target=lambda: got.append(export())) for _ in range(6)]
        writer = threading.Thread(target=writes)
        for thread in [writer, *readers]:
            thread.start()
        for thread in [writer, *readers]:
            thread.join()
    assert len(got) == 6 and len(set(full)) == 4
    for text in got:
        assert text in full  # whole: exactly one generation's complete export, no error line
