"""Shared fixtures: real indexes in temporary folders, built once per session."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from search.cli import main
from search.engine import Engine
from search.semantic.embedders import Embedder, UniversalSentenceEncoder

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_ID = "000_494cd484c81fa86c"
SEED_FILE = REPO / "seeds" / f"{SEED_ID}.txt"

# A tiny corpus with obvious answers, next to the seed article.
TINY_ARTICLES = [
    {
        "id": "eu-gipfel",
        "title": "EU-Gipfel in Brüssel",
        "date": "2025-03-20",
        "source": "test",
        "language": "de",
        "category": "politik",
        "text": "Die Staats- und Regierungschefs der EU trafen sich in Brüssel. "
        "Sie berieten über Verteidigung und Haushalt.",
    },
    {
        "id": "fussball",
        "title": "Rapid gewinnt das Derby",
        "date": "2025-04",
        "source": "test",
        "language": "de",
        "category": "sport",
        "text": "Rapid Wien hat das Derby gegen die Austria mit 2:0 gewonnen. "
        "Die Fans feierten im Stadion bis spät in die Nacht.",
    },
    {
        "id": "klima",
        "title": "Hitzewelle in Europa",
        "date": "2024-07-15",
        "source": "test",
        "language": "de",
        "category": "wissenschaft",
        "text": "Eine Hitzewelle hat weite Teile Europas erfasst. Meteorologen warnen "
        "vor Temperaturen über 40 Grad und Waldbränden im Süden.",
    },
    {
        "id": "boerse",
        "title": "Börse schließt mit Gewinnen",
        "date": "2025",
        "source": "test",
        "language": "de",
        "category": "wirtschaft",
        "text": "Die Wiener Börse hat die Woche mit deutlichen Kursgewinnen beendet. "
        "Bankaktien legten besonders stark zu.",
    },
    {
        "id": "hegseth-pentagon",
        "title": "Hegseth im Pentagon",
        "date": "2025-01-25",
        "source": "test",
        "language": "de",
        "category": "politik",
        "text": "Pete Hegseth wurde als US-Verteidigungsminister vereidigt. "
        "Er kündigte Reformen im Pentagon an.",
    },
]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real packaged USE model, loaded once."""
    return UniversalSentenceEncoder()


@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("sources")
    corpus = folder / "tiny.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(a, ensure_ascii=False) for a in TINY_ARTICLES) + "\n", encoding="utf-8"
    )
    return [SEED_FILE, corpus]


@pytest.fixture(scope="session")
def tiny_index(
    tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path], embedder: Embedder
) -> Path:
    """An index of the seed plus the tiny corpus; tests must not write to it."""
    path = tmp_path_factory.mktemp("index") / "index"
    Engine.rebuild(tiny_sources, path, embedder=embedder)
    return path


@pytest.fixture(scope="session")
def engine(tiny_index: Path, embedder: Embedder) -> Engine:
    return Engine(tiny_index, embedder=embedder)


@pytest.fixture(scope="session")
def gnad_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 1,028 10kGNAD articles, built once through the CLI for the slow tests that
    need a real archive (acceptance and quality); tests must not write to it."""
    index = tmp_path_factory.mktemp("gnad") / "i"
    corpus = SHARED / "corpora" / "10kgnad" / "articles.jsonl"
    result = CliRunner().invoke(main, ["rebuild", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output
    return index


@pytest.fixture
def writable_engine(tmp_path: Path, tiny_sources: list[Path], embedder: Embedder) -> Engine:
    """A fresh index per test, for tests that write."""
    engine, _report = Engine.rebuild(tiny_sources, tmp_path / "index", embedder=embedder)
    return engine


def command_lines() -> dict[int, bytes]:
    """Every process's command line (arguments joined by NUL bytes), by pid."""
    lines = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:
                continue
    return lines


@contextlib.contextmanager
def running_server(
    index: Path,
    *options: str,
    timeout: float = 90,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[str]:
    """``news-search serve`` on a free loopback port until the block ends; yields its URL.

    ``env`` adds to the environment (keys go there, never on the command line);
    the server's output goes to ``log`` when given."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, "-m", "search", "serve", "--index", str(index), "--port", str(port)]
    # Writes only with a key the test gives.
    environment = {**os.environ, "NEWS_SEARCH_API_KEY": "", **(env or {})}
    # The log goes to a file: a pipe nobody reads fills up after a few hundred
    # requests' access-log lines, and the server then blocks writing the next one.
    output = log.open("w+b") if log else tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [*command, *options], env=environment, stdout=output, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                output.seek(0)
                raise AssertionError(output.read().decode(errors="replace"))
            assert time.monotonic() < deadline, f"server did not come up in {timeout:.0f} s"
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        output.close()
