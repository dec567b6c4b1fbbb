"""A full disk during a write: one ``error:`` line, the old generation serving, the lock
released, and the next write succeeding once there is room again."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from search.cli import EXIT_ERROR, main
from search.engine import Engine
from search.errors import StorageError
from search.semantic.embedders import Embedder
from search.settings import Settings
from search.storage.folder import CURRENT_FILE, IndexFolder, storage_errors

from .conftest import TINY_ARTICLES


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` for the block (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(filler: Path, leave: int) -> None:
    """Take all free space but ``leave`` bytes."""
    free = os.statvfs(filler.parent)
    size = max(0, free.f_bavail * free.f_frsize - leave)
    with filler.open("wb") as handle:
        try:
            handle.write(b"\0" * size)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@pytest.mark.slow
@pytest.mark.parametrize("leave", [4_096, 24_576, 65_536])
def test_a_full_disk_during_add_is_one_error_line_and_changes_nothing(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder, leave: int
) -> None:
    additions = tmp_path / "more.jsonl"
    additions.write_text(
        "\n".join(
            json.dumps({**a, "id": f"{a['id']}-{n}"}, ensure_ascii=False)
            for n in range(8)
            for a in TINY_ARTICLES
        ),
        encoding="utf-8",
    )
    with small_disk(tmp_path / "disk", "1m") as disk:
        index = disk / "index"
        Engine.rebuild(tiny_sources, index, embedder=embedder)
        live = (index / CURRENT_FILE).read_text()
        filler = disk / "filler"
        _fill(filler, leave)
        result = CliRunner().invoke(main, ["add", str(additions), "--index", str(index)])
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == EXIT_ERROR, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "full" in lines[0], lines
        assert (index / CURRENT_FILE).read_text() == live
        assert Engine(index, embedder=embedder).stats()["articles"] == len(TINY_ARTICLES) + 1
        with IndexFolder(index).writer_lock():  # released: taken at once
            pass
        filler.unlink()
        again = CliRunner().invoke(main, ["add", str(additions), "--index", str(index)])
        assert again.exit_code == 0, again.output
        assert Engine(index, embedder=embedder).stats()["articles"] == 9 * len(TINY_ARTICLES) + 1


def test_a_vector_file_that_cannot_be_written_is_a_storage_error(tmp_path: Path) -> None:
    """FAISS reports a full disk as a RuntimeError; it becomes the same one line."""
    with small_disk(tmp_path / "disk", "64k") as disk:
        vectors = faiss.IndexFlatIP(512)
        vectors.add(np.ones((200, 512), dtype=np.float32))
        with (
            pytest.raises(StorageError, match="the disk is full") as raised,
            storage_errors(disk),
        ):
            faiss.write_index(vectors, str(disk / "vectors.faiss"))
        assert raised.value.disk_full


@pytest.mark.slow
def test_a_full_disk_during_an_api_write_is_507_and_the_old_index_serves(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        index = disk / "index"
        Engine.rebuild(tiny_sources, index, embedder=embedder)
        with TestClient(create_app(Settings(index=index, api_key="k"))) as client:
            _fill(disk / "filler", 4_096)
            article = {"id": "neu", "title": "Neu", "text": "Ein neuer Artikel.", "language": "de"}
            response = client.post("/articles", json=article, headers={"X-API-Key": "k"})
            assert response.status_code == 507, response.text
            assert set(response.json()) == {"error"} and str(disk) not in response.text
            health = client.get("/health")
            assert health.status_code == 200
            assert health.json()["articles"] == len(TINY_ARTICLES) + 1
