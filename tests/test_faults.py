"""Crash safety: the real CLI's ``rebuild`` and ``add`` are SIGKILLed at random moments.

After every kill the index must open and serve, hold exactly the articles of the
generation before the command or exactly those of the finished command (never a
mix, never an article on one side only), and let the next writer in.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from search.engine import Engine
from search.semantic.embedders import Embedder
from search.storage.folder import CURRENT_FILE, IndexFolder
from search.storage.generations import Generation
from search.storage.shards import shard_name

pytestmark = pytest.mark.slow

SEED = 20250301
REBUILD_RUNS = 4
ADD_RUNS = 6
CITIES = ["Wien", "Graz", "Linz", "Salzburg", "Innsbruck", "Bregenz", "Klagenfurt"]
TOPICS = ["Hochwasser", "Wahl", "Streik", "Derby", "Konzert", "Baustelle", "Budget"]

State = dict[str, str]  # article id -> title


def _article(article_id: str, title: str, n: int) -> dict[str, str]:
    city, topic = CITIES[n % len(CITIES)], TOPICS[n % len(TOPICS)]
    return {
        "id": article_id,
        "title": title,
        # Three years: three shards, so a write touches some shards and links the rest.
        "date": f"{2023 + n % 3}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
        "text": f"Artikel {n}: In {city} sorgt das Thema {topic} für Gespräche. "
        f"Die Behörden in {city} kündigten an, die Lage zu {topic} weiter zu beobachten.",
    }


def _write(path: Path, articles: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), "utf-8")
    return path


def _read(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _state(index: Path) -> State:
    """The live generation's articles; asserts that both sides of every shard hold the
    same ids (opening checks it) and that every article is in its date's shard."""
    generation = Generation(IndexFolder(index).lease_current())
    try:
        articles = list(generation.lexical.articles())
        state = {a.id: a.title for a in articles}
        assert set(state) == generation.vectors.ids(), "an article is on one side only"
        for article in articles:
            shard = generation.shards[generation.vectors.shard_of(article.id)]
            assert shard.name == shard_name(article.date, "year"), article.id
    finally:
        generation.lexical.close()
        generation.lease.release()
    return state


@dataclass
class Outcome:
    """How a CLI run ended, how long it ran, and when its new generation folder appeared."""

    killed: bool
    seconds: float
    folder_at: float | None

    def __str__(self) -> str:
        if not self.killed:
            return "finished"
        text = f"killed {self.seconds:.2f}s after start"
        if self.folder_at is not None:
            text += f", {self.seconds - self.folder_at:.2f}s after its generation appeared"
        return text


def _run(index: Path, args: tuple[str, ...], kill_at: tuple[str, float] | None) -> Outcome:
    """Run the CLI and SIGKILL it at ``kill_at``: ("start", s) s seconds after it
    started, or ("folder", s) s seconds after its new generation folder appeared."""
    existing = set(IndexFolder(index).generations())
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWS_SEARCH_")}
    log = index.parent / "cli.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "search", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            start_new_session=True,  # its own process group: the kill takes any children
        )
    started = time.perf_counter()
    folder_at: float | None = None
    while process.poll() is None:
        elapsed = time.perf_counter() - started
        if folder_at is None and set(IndexFolder(index).generations()) - existing:
            folder_at = elapsed
        if kill_at is not None:
            anchor = 0.0 if kill_at[0] == "start" else folder_at
            if anchor is not None and elapsed >= anchor + kill_at[1]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return Outcome(True, elapsed, folder_at)
        time.sleep(0.005)
    assert process.returncode == 0, log.read_text()
    return Outcome(False, time.perf_counter() - started, folder_at)


def _plan(rng: random.Random, full: Outcome) -> tuple[str, float]:
    """Half of the kills fall anywhere in a run (mostly start-up and embedding); the
    other half aim at the write itself, after the new generation folder appeared."""
    assert full.folder_at is not None
    if rng.random() < 0.5:
        return "start", rng.uniform(0.2, 1.0) * full.seconds
    return "folder", rng.uniform(0.0, 1.0) * (full.seconds - full.folder_at)


def _check_serves(index: Path, embedder: Embedder, expected: State) -> None:
    engine = Engine(index, embedder=embedder)
    assert engine.stats()["articles"] == len(expected)
    hits = engine.search("Hochwasser Wien", mode="hybrid").hits
    assert hits and all(h.scores.fused is not None for h in hits)
    assert engine.similar(article_id=hits[0].id, limit=3).hits


def test_sigkilled_rebuilds_and_adds_leave_a_whole_index(
    tmp_path: Path, embedder: Embedder
) -> None:
    rng = random.Random(SEED)
    index = tmp_path / "index"
    base = [_article(f"a-{n}", f"Artikel {n}", n) for n in range(60)]
    _write(tmp_path / "base.jsonl", base)
    Engine.rebuild([tmp_path / "base.jsonl"], index, embedder=embedder)
    outcomes: list[str] = []

    # Rebuilds: each run's sources are the base plus every extra batch so far, so a
    # finished rebuild keeps every article the index had.
    sources = [tmp_path / "base.jsonl"]
    for run in range(REBUILD_RUNS + 1):
        extra = [_article(f"r{run}-{n}", f"Nachtrag {run}.{n}", 100 + n) for n in range(10)]
        sources.append(_write(tmp_path / f"rebuild-{run}.jsonl", extra))
        before = _state(index)
        finished = {a["id"]: a["title"] for path in sources for a in _read(path)}
        args = ("rebuild", *map(str, sources), "--index", str(index))
        if run == 0:
            full_rebuild = _run(index, args, None)  # one full run, to aim the kills
            assert _state(index) == finished
            continue
        how = _run(index, args, _plan(rng, full_rebuild))
        after = _state(index)
        assert after in (before, finished), f"rebuild {how} left a mix"
        assert set(before) <= set(after)
        if not how.killed:
            assert after == finished
        outcomes.append(f"rebuild {how}: {'new' if after == finished else 'old'} index")
        _check_serves(index, embedder, after)

    # Adds: new articles plus new titles for existing ones, all or nothing.
    for run in range(ADD_RUNS + 1):
        batch = [_article(f"n{run}-{n}", f"Neu {run}.{n}", 200 + n) for n in range(15)]
        # New titles, and new dates that move them to another year's shard.
        batch += [_article(f"a-{n}", f"Fassung {run} von {n}", n + 1) for n in range(5)]
        path = _write(tmp_path / f"add-{run}.jsonl", batch)
        before = _state(index)
        finished = {**before, **{a["id"]: a["title"] for a in batch}}
        args = ("add", str(path), "--index", str(index))
        if run == 0:
            full_add = _run(index, args, None)
            assert _state(index) == finished
            continue
        how = _run(index, args, _plan(rng, full_add))
        after = _state(index)
        assert after in (before, finished), f"add {how} left a mix"
        if not how.killed:
            assert after == finished
        outcomes.append(f"add {how}: {'new' if after == finished else 'old'} index")
        _check_serves(index, embedder, after)

    # Nothing a killed writer left behind blocks the next one, which also clears it.
    final = _write(tmp_path / "final.jsonl", [_article("final", "Zum Schluss", 300)])
    assert not _run(index, ("add", str(final), "--index", str(index)), None).killed
    folder = IndexFolder(index)
    assert folder.generations() == [folder.current_name()], outcomes
    assert not (index / f"{CURRENT_FILE}.tmp").exists()
    assert "final" in _state(index)
    print("\n".join(outcomes))
