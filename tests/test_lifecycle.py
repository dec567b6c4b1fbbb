"""Index lifecycle: generations, leases, the writer lock, and readers during writes."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import random
import threading
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from search.cli import EXIT_ERROR, main
from search.engine import Engine
from search.errors import WriterBusy
from search.ingest.article import Article
from search.ingest.readers import read_articles
from search.lexical.index import LexicalIndex
from search.semantic.embedders import Embedder
from search.storage.folder import CURRENT_FILE, LEXICAL_DIR, IndexFolder

from .conftest import SEED_ID, TINY_ARTICLES
from .generations import shard_folders, sides


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _volcano(n: int) -> Article:
    return Article(
        id=f"vulkan-{n}",
        title=f"Vulkan {n}",
        body=f"Ein Vulkan ist auf Island ausgebrochen ({n}).",
        date=f"2025-03-{n + 1:02d}",
        language="de",
    )


# -- generations ------------------------------------------------------------------------


def test_a_write_publishes_a_new_generation_and_never_changes_the_old_one(
    writable_engine: Engine,
) -> None:
    folder = writable_engine.folder
    before = folder.current()
    snapshot = _fingerprint(before)
    lease = folder.lease(before.name)  # a reader on the old generation, as a server has

    report = writable_engine.write([_volcano(1)], deletes=["klima"])

    assert lease is not None and before.is_dir()
    assert report.generation != before.name and folder.current_name() == report.generation
    assert _fingerprint(before) == snapshot, "the published generation was modified"
    lexical, vectors = sides(folder.current())
    assert lexical == vectors and "vulkan-1" in lexical and "klima" not in lexical
    assert writable_engine.manifest.generation == report.generation
    assert writable_engine.stats()["articles"] == len(lexical)


def test_cleanup_keeps_only_the_live_generation_once_nobody_reads_the_old_ones(
    writable_engine: Engine,
) -> None:
    for n in range(3):
        writable_engine.write([_volcano(n)])
    folder = writable_engine.folder
    assert folder.generations() == [folder.current_name()]
    assert not (folder.path / f"{CURRENT_FILE}.tmp").exists()


def test_a_write_that_changes_nothing_publishes_nothing(writable_engine: Engine) -> None:
    before = writable_engine.folder.generations()
    report = writable_engine.write(deletes=["gibt-es-nicht"])
    assert report.deleted == 0 and report.generation == before[-1]
    assert writable_engine.folder.generations() == before


def test_a_leased_generation_survives_cleanup_until_released(tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    with folder.writer_lock():
        old = folder.new_generation()
        folder.switch_to(old)
    lease = folder.lease_current()
    assert lease.name == old.name
    with folder.writer_lock():
        new = folder.new_generation()
        folder.switch_to(new)
        assert folder.remove_stale() == []
        assert old.is_dir()
    lease.release()
    with folder.writer_lock():
        assert folder.remove_stale() == [old.name]
    assert folder.generations() == [new.name]


def test_a_lease_is_refused_on_a_generation_that_is_gone(tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    with folder.writer_lock():
        first = folder.new_generation()
        folder.switch_to(first)
        second = folder.new_generation()
        folder.switch_to(second)
        assert folder.remove_stale() == [first.name]
    assert folder.lease(first.name) is None
    assert folder.lease_current().name == second.name


def test_changing_generations_needs_the_writer_lock(tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    with pytest.raises(RuntimeError, match="writer lock"):
        folder.new_generation()
    with pytest.raises(RuntimeError, match="writer lock"):
        folder.remove_stale()


def test_a_half_built_generation_is_ignored_and_removed_by_the_next_write(
    writable_engine: Engine, embedder: Embedder
) -> None:
    folder = writable_engine.folder
    with folder.writer_lock():
        junk = folder.new_generation(base=folder.current())  # as a killed writer leaves it
    reader = Engine(folder.path, embedder=embedder)
    assert reader.stats()["generation"] != junk.name
    assert reader.search("Hegseth Brüssel").hits[0].id == SEED_ID
    writable_engine.write([_volcano(1)])
    assert not junk.exists()


# -- the writer lock --------------------------------------------------------------------


def test_a_second_writer_is_told_who_holds_the_lock_and_readers_go_on(
    writable_engine: Engine, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "neu", "text": "Ein Vulkan."}) + "\n", encoding="utf-8")
    index = writable_engine.folder.path
    before = writable_engine.folder.generations()
    with writable_engine.folder.writer_lock():
        result = CliRunner().invoke(main, ["add", str(extra), "--index", str(index)])
        assert result.exit_code == EXIT_ERROR
        message = result.stderr.strip()
        assert message.startswith("error: ") and f"being written by pid {os.getpid()}" in message
        with pytest.raises(WriterBusy, match="being written by pid"):
            writable_engine.delete(["klima"])
        assert writable_engine.search("Hegseth Brüssel").hits[0].id == SEED_ID
    assert writable_engine.folder.generations() == before
    assert writable_engine.delete(["klima"]) == 1


def test_a_stale_whoosh_lock_in_the_live_generation_blocks_no_writer(
    writable_engine: Engine,
) -> None:
    # A Whoosh writer killed inside a generation leaves MAIN_WRITELOCK behind; here one
    # is even still held. Writes never run Whoosh in a published generation, so the
    # next write goes through.
    shard = shard_folders(writable_engine.folder.current())[0]
    stale = shard / LEXICAL_DIR / "MAIN_WRITELOCK"
    with open(stale, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        writable_engine.write([_volcano(1)])
    assert writable_engine.get("vulkan-1").title == "Vulkan 1"


# -- readers while writers switch generations -------------------------------------------


def test_readers_never_fail_or_see_one_side_only_while_writes_and_rebuilds_switch(
    tmp_path: Path, tiny_sources: list[Path], embedder: Embedder
) -> None:
    """Three threads read through two engines (one of them writing) during writes and
    rebuilds: no request fails, every lexical hit is also on the semantic side, and a
    reader never loses an article it saw before (no article is lost)."""
    index = tmp_path / "index"
    archive = tmp_path / "volcanoes.jsonl"
    writer, _ = Engine.rebuild(tiny_sources, index, embedder=embedder)
    engines = [writer, Engine(index, embedder=embedder), Engine(index, embedder=embedder)]
    stop = threading.Event()
    failures: list[str] = []
    requests: Counter[int] = Counter()

    def read(slot: int) -> None:
        engine = engines[slot]
        seen: set[str] = set()
        while not stop.is_set():
            try:
                hits = engine.search("Vulkan", mode="lexical", limit=50).hits
                ids = {h.id for h in hits}
                assert seen <= ids, f"lost {seen - ids}"
                seen = ids
                for hit in hits:
                    engine.similar(article_id=hit.id, limit=1)  # needs the semantic side
                assert engine.search("Hegseth Brüssel", mode="lexical").hits[0].id == SEED_ID
                requests[slot] += 1
            except Exception as exc:  # any failure at all is what this test looks for
                failures.append(f"reader {slot}: {exc!r}")
                return

    threads = [threading.Thread(target=read, args=(slot,)) for slot in range(3)]
    for thread in threads:
        thread.start()
    try:
        for n in range(2):
            volcano = _volcano(n)
            writer.write([volcano])
            with archive.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(volcano.to_dict()) + "\n")
            # A rebuild from the sources plus everything written keeps every article.
            Engine.rebuild([*tiny_sources, archive], index, embedder=embedder)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures
    assert all(requests[slot] > 0 for slot in range(3)), requests
    final = Engine(index, embedder=embedder)
    assert {"vulkan-0", "vulkan-1"} <= {a.id for a in final.articles()}


@pytest.mark.slow
def test_concurrent_queries_on_one_lexical_index_never_read_each_others_bytes(
    tmp_path: Path,
) -> None:
    """A server shares one generation between its request threads; Whoosh searchers are
    not thread-safe (shared file positions), so each thread must read through its own."""
    cities = ["Wien", "Graz", "Linz", "Salzburg", "Innsbruck", "Bregenz", "Klagenfurt"]
    topics = ["Hochwasser", "Wahl", "Streik", "Derby", "Konzert", "Baustelle", "Budget"]
    lexical = LexicalIndex.create(tmp_path / "lexical")
    for segment in range(3):  # several segments, as adds leave them
        with lexical.writer(fresh=segment == 0) as writer:
            for n in range(segment * 100, segment * 100 + 100):
                city, topic = cities[n % 7], topics[n * 3 % 7]
                writer.upsert(
                    Article(
                        id=f"a-{n}",
                        title=f"{topic} in {city}",
                        body=f"In {city} sorgt das Thema {topic} für Gespräche ({n}).",
                        date="2025-01-02",
                    )
                )
    failures: list[str] = []

    def query(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(150):
            try:
                text = f"{rng.choice(cities)} {rng.choice(topics)}"
                assert lexical.search(lexical.parser.parse(text), 50).ranked
                lexical.get(f"a-{rng.randrange(300)}")
            except Exception as exc:  # a torn read shows up as any kind of error
                failures.append(repr(exc))
                return

    threads = [threading.Thread(target=query, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


# -- export -----------------------------------------------------------------------------


def test_export_writes_every_article_so_the_archive_can_be_rebuilt(
    writable_engine: Engine, tmp_path: Path, embedder: Embedder
) -> None:
    writable_engine.write([_volcano(1)])
    result = CliRunner().invoke(main, ["export", "--index", str(writable_engine.folder.path)])
    assert result.exit_code == 0, result.output
    archive = tmp_path / "archive.jsonl"
    archive.write_text(result.stdout, encoding="utf-8")
    original = {a.id: a for a in writable_engine.articles()}
    assert len(original) == len(TINY_ARTICLES) + 2
    # The story (agency copies) is worked out again at ingest, not read back.
    unread = {i: dataclasses.replace(a, story=None) for i, a in original.items()}
    assert {a.id: a for a in read_articles([archive])} == unread
    rebuilt, report = Engine.rebuild([archive], tmp_path / "again", embedder=embedder)
    assert not report.rejected
    assert {a.id: a for a in rebuilt.articles()} == original
