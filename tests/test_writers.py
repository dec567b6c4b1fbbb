"""Writers queue: a CLI writer waits (``--wait``) for the lock; the API answers 409 with
``Retry-After`` (tests/test_security.py) instead of waiting."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from search.cli import EXIT_ERROR, main
from search.engine import Engine
from search.storage.folder import IndexFolder

from .conftest import running_server


def _hold_lock(index: Path, seconds: float) -> threading.Thread:
    taken = threading.Event()

    def hold() -> None:
        with IndexFolder(index).writer_lock():
            taken.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(10)
    return thread


def test_a_cli_writer_waits_for_the_lock_when_asked(writable_engine: Engine) -> None:
    index = writable_engine.folder.path
    holder = _hold_lock(index, 1.0)
    refused = CliRunner().invoke(main, ["delete", "klima", "--index", str(index)])
    assert refused.exit_code == EXIT_ERROR and "--wait" in refused.output
    waited = CliRunner().invoke(main, ["delete", "klima", "--index", str(index), "--wait", "30"])
    holder.join()
    assert waited.exit_code == 0, waited.output
    assert "deleted 1 of 1" in waited.output


def test_a_rebuild_waits_for_the_lock_when_asked(
    writable_engine: Engine, tiny_sources: list[Path]
) -> None:
    index = writable_engine.folder.path
    args = ["rebuild", *map(str, tiny_sources), "--index", str(index)]
    holder = _hold_lock(index, 1.0)
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == EXIT_ERROR and "--wait" in refused.output
    waited = CliRunner().invoke(main, [*args, "--wait", "30"])
    holder.join()
    assert waited.exit_code == 0, waited.output


def test_a_wait_that_runs_out_names_how_long_it_waited(writable_engine: Engine) -> None:
    index = writable_engine.folder.path
    holder = _hold_lock(index, 1.5)
    result = CliRunner().invoke(main, ["delete", "klima", "--index", str(index), "--wait", "0.3"])
    holder.join()
    assert result.exit_code == EXIT_ERROR and "after waiting 0.3s" in result.output


@pytest.mark.slow
def test_concurrent_cli_adds_against_a_server_under_read_load_all_succeed(
    writable_engine: Engine, tmp_path: Path
) -> None:
    index = writable_engine.folder.path
    sources = []
    for n in range(4):
        source = tmp_path / f"add-{n}.jsonl"
        article = {
            "id": f"welle-{n}",
            "title": f"Welle {n}",
            "text": f"Eine Welle ({n}).",
            "language": "de",
        }
        source.write_text(json.dumps(article), encoding="utf-8")
        sources.append(source)
    with running_server(index) as base:
        stop = threading.Event()

        statuses: list[int] = []

        def read() -> None:
            while not stop.is_set():
                response = httpx.get(f"{base}/search", params={"q": "Welle"}, timeout=60)
                statuses.append(response.status_code)

        readers = [threading.Thread(target=read) for _ in range(2)]
        for reader in readers:
            reader.start()
        adds = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "search",
                    "add",
                    str(s),
                    "--index",
                    str(index),
                    "--wait",
                    "300",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for s in sources
        ]
        outputs = [
            (p.wait(timeout=600), p.stdout.read().decode() if p.stdout else "") for p in adds
        ]
        stop.set()
        for reader in readers:
            reader.join()
        found = httpx.get(f"{base}/search", params={"q": "Welle", "mode": "lexical"}).json()
    assert all(code == 0 for code, _ in outputs), outputs
    assert statuses and set(statuses) == {200}
    assert {f"welle-{n}" for n in range(4)} <= {hit["id"] for hit in found["hits"]}
