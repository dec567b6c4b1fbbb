"""Time-partitioned shards: one archive to every reader, whatever the sharding.

The same articles built with yearly shards and with one shard must rank the same,
count the same facets, and differ only where sharding is meant to show: a period
filter skips the other years' shards, a write creates files only for its shard.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.structfile import StructFile

from api.app import create_app
from search.cli import EXIT_ERROR, main
from search.engine import Engine
from search.ingest.article import Article
from search.ingest.duplicates import STORIES_FILE, Stories
from search.retrieval.filters import Filters
from search.semantic.embedders import Embedder
from search.semantic.neighbours import NEIGHBOURS_FILE, NeighbourTable
from search.settings import Settings
from search.storage.folder import CURRENT_FILE
from search.storage.integrity import write_checksums
from search.storage.manifest import SCHEMA_VERSION, Manifest
from search.storage.shards import UNDATED, WHOLE, shard_name

from .conftest import SHARED
from .generations import shard_folders

DATED = SHARED / "corpora" / "wikinews-de" / "articles.jsonl"
UNDATED_CORPUS = SHARED / "corpora" / "10kgnad" / "articles.jsonl"
# What every write rewrites besides its shards' files: all small.
GENERATION_FILES = {"manifest.json", "checksums.json"}


def _head(path: Path, lines: int, into: Path) -> Path:
    with path.open(encoding="utf-8") as handle:
        into.write_text("".join(next(handle) for _ in range(lines)), encoding="utf-8")
    return into


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, Path]:
    """300 dated articles over three years and 200 undated ones, built twice: in
    yearly shards and in one shard. Tests must not write to them."""
    folder = tmp_path_factory.mktemp("shards")
    sources = [
        _head(DATED, 300, folder / "dated.jsonl"),
        _head(UNDATED_CORPUS, 200, folder / "undated.jsonl"),
    ]
    built = {}
    for by in ("year", "none"):
        Engine.rebuild(sources, folder / by, embedder=embedder, shard_by=by)
        built[by] = folder / by
    return built


@pytest.fixture(scope="module")
def engines(layouts: dict[str, Path], embedder: Embedder) -> dict[str, Engine]:
    return {by: Engine(path, embedder=embedder) for by, path in layouts.items()}


def _queries(engine: Engine, count: int = 25) -> list[str]:
    """Queries made from stored titles: their first words, and whole titles as prose."""
    titles = [a.title for a in engine.articles() if a.title][::17][:count]
    return [" ".join(t.split()[:2]) for t in titles] + titles


def test_yearly_shards_rank_exactly_as_one_shard(engines: dict[str, Engine]) -> None:
    sharded, whole = engines["year"], engines["none"]
    assert len(sharded._current().shards) == 4 and len(whole._current().shards) == 1
    for query in _queries(whole):
        for mode in ("lexical", "hybrid", "semantic"):
            a = sharded.search(query, mode=mode, facets=True)
            b = whole.search(query, mode=mode, facets=True)
            assert [h.id for h in a.hits] == [h.id for h in b.hits], (query, mode)
            assert a.total == b.total and a.facets == b.facets, (query, mode)
            for x, y in zip(a.hits, b.hits, strict=True):
                if x.scores.lexical is not None:
                    assert x.scores.lexical == pytest.approx(y.scores.lexical, rel=1e-6)
                assert x.score == pytest.approx(y.score, rel=1e-6)


def test_stats_list_every_shard_with_its_counts_dates_and_bytes(engines: dict[str, Engine]) -> None:
    stats = engines["year"].stats()
    shards = {s["name"]: s for s in stats["shards"]}
    assert stats["shard_by"] == "year" and UNDATED in shards
    assert sum(s["articles"] for s in shards.values()) == stats["articles"] == 500
    assert sum(s["passages"] for s in shards.values()) == stats["passage_count"]
    for name, shard in shards.items():
        assert shard["bytes"] > 0 and shard["articles"] > 0
        if name == UNDATED:
            assert shard["first_date"] is None
        else:
            assert shard["first_date"][:4] == shard["last_date"][:4] == name
    assert [s["name"] for s in engines["none"].stats()["shards"]] == [WHOLE]


def test_a_one_year_filter_skips_every_other_shard(engines: dict[str, Engine]) -> None:
    engine = engines["year"]
    year = next(s["name"] for s in engine.stats()["shards"] if s["name"] != UNDATED)
    only = Filters.parse(date_from=year, date_to=year)
    # A title of that year, as keywords: it matches in other years too.
    title = next(a.title for a in engine.articles() if (a.date or "").startswith(year))
    for mode in ("lexical", "hybrid", "semantic"):
        page = engine.search(title, mode=mode, filters=only, limit=50)
        assert page.shards.total == 4 and page.shards.skipped == 3, mode
        assert page.shards.successful == 1 and page.shards.failed == 0
        assert page.hits and all(h.date and h.date[:4] == year for h in page.hits)
    similar = engine.similar(text="Regierung Wahl Parlament", filters=only)
    assert similar.shards.skipped == 3 and similar.hits
    everything = engine.search(title, mode="lexical")
    assert everything.shards.skipped == 0 and everything.shards.successful == 4


def test_the_api_reports_shards_as_elasticsearch_does(layouts: dict[str, Path]) -> None:
    with TestClient(create_app(Settings(index=layouts["year"]))) as client:
        body = client.get("/search", params={"q": "Wahl", "from": "2005", "to": "2005"}).json()
        assert set(body["shards"]) == {"total", "successful", "skipped", "failed"}
        assert body["shards"] == {"total": 4, "successful": 1, "skipped": 3, "failed": 0}
        stats = client.get("/stats").json()
        assert len(stats["shards"]) == 4


def _copy(index: Path, into: Path) -> Path:
    shutil.copytree(index, into)
    return into


def _new_files(before: Path, after: Path) -> dict[str, int]:
    """Files of generation ``after`` that are not hard links of ``before``'s, with sizes."""
    new = {}
    for path in after.rglob("*"):
        if not path.is_file():
            continue
        name = path.relative_to(after).as_posix()
        old = before / name
        if not (old.exists() and os.path.samefile(old, path)):
            new[name] = path.stat().st_size
    return new


def test_an_add_writes_new_files_only_for_its_shard(
    layouts: dict[str, Path], tmp_path: Path, embedder: Embedder
) -> None:
    engine = Engine(_copy(layouts["year"], tmp_path / "index"), embedder=embedder)
    before = engine.folder.current()
    year = min(s["name"] for s in engine.stats()["shards"])
    lease = engine.folder.lease(before.name)  # keep it on disk to compare with
    article = Article(id="neu-1", title="Ein neuer Bericht", body="Text.", date=f"{year}-06-01")
    engine.write([article])
    after = engine.folder.current()
    assert lease is not None and after != before
    new = _new_files(before, after)
    own = f"shards/{year}/"
    # The neighbour rows and stories of the archive are kept per shard: only the
    # shard's own are new, every other shard's stay links.
    assert all(name.startswith(own) or name in GENERATION_FILES for name in new), sorted(new)
    assert {f"{own}{NEIGHBOURS_FILE}", f"{own}{STORIES_FILE}"} <= set(new)
    assert sum(v for k, v in new.items() if k in GENERATION_FILES) < 100_000
    shard_bytes = sum(p.stat().st_size for p in (after / own).rglob("*") if p.is_file())
    total_bytes = sum(p.stat().st_size for p in after.rglob("*") if p.is_file())
    written = sum(new.values())
    assert sum(v for k, v in new.items() if k.startswith(own)) <= shard_bytes < total_bytes
    print(f"one add wrote {written:,} of {total_bytes:,} bytes")
    assert engine.get("neu-1").date == f"{year}-06-01"


def test_a_new_date_moves_an_article_to_its_shard_in_one_write(
    layouts: dict[str, Path], tmp_path: Path, embedder: Embedder
) -> None:
    engine = Engine(_copy(layouts["year"], tmp_path / "index"), embedder=embedder)
    generation = engine._current()
    article = next(a for a in engine.articles() if a.date and a.date.startswith("2005"))
    count = engine.stats()["articles"]
    moved = Article(id=article.id, title=article.title, body=article.body, date="2019-03-04")
    engine.write([moved])
    generation = engine._current()
    names = [s.name for s in generation.shards]
    assert "2019" in names
    assert generation.shards[generation.vectors.shard_of(article.id)].name == "2019"
    assert engine.stats()["articles"] == count
    assert sum(s["articles"] for s in engine.stats()["shards"]) == count
    found = engine.search(article.title, mode="lexical", filters=Filters.parse(date_from="2019"))
    assert [h.id for h in found.hits] == [article.id]
    assert shard_name(engine.get(article.id).date, "year") == "2019"


def test_a_shard_that_cannot_be_read_fails_alone(
    layouts: dict[str, Path], engines: dict[str, Engine], tmp_path: Path, embedder: Embedder
) -> None:
    index = _copy(layouts["year"], tmp_path / "index")
    engine = Engine(index, embedder=embedder)  # opened whole; no query has read a term
    query = " ".join(_queries(engine, 40)[:40])
    healthy = engines["year"].search(query, mode="lexical", limit=100)
    assert healthy.shards.successful == 4
    shard = shard_folders(engine.folder.current())[0]
    # Garbage over the shard's posting lists; its term dictionary and statistics,
    # which every shard's scores need, stay readable (a damaged block on disk).
    segment = next((shard / "lexical").glob("*.seg"))
    with segment.open("r+b") as handle:
        parts = CompoundStorage(StructFile(handle), use_mmap=False)._dir
        postings = next(part for name, part in parts.items() if name.endswith(".pst"))
        handle.seek(postings["offset"])
        handle.write(bytes(range(256)) * (postings["length"] // 256))
    page = engine.search(query, mode="lexical", limit=100)
    assert page.shards.failed == 1 and page.shards.successful == 3
    assert 0 < page.total < healthy.total
    cli = CliRunner().invoke(main, ["query", query, "--index", str(index), "--mode", "lexical"])
    assert cli.exit_code == 0 and "1 of 4 shards could not be read" in cli.output


def _archive_wide_tables(generation: Path, folders: list[Path]) -> NeighbourTable:
    """Store the neighbour table and the stories of the shards in ``folders`` as a
    generation before schema 5 did: one file each, in the generation folder."""
    table = NeighbourTable.load(folders)
    stories = Stories.load(*folders)
    assert table is not None
    for folder in folders:
        (folder / NEIGHBOURS_FILE).unlink()
        (folder / STORIES_FILE).unlink()
    np.savez(generation / NEIGHBOURS_FILE, ids=table.ids, table=table.table, changed=0)
    stories.save(generation)
    return table


def test_an_unsharded_index_from_before_opens_as_one_shard(
    layouts: dict[str, Path], tmp_path: Path, embedder: Embedder
) -> None:
    """A schema 3 generation: one lexical index and vectors in the generation folder."""
    index = _copy(layouts["none"], tmp_path / "index")
    generation = index / (index / CURRENT_FILE).read_text().strip()
    for part in (generation / "shards" / WHOLE).iterdir():
        part.rename(generation / part.name)
    shutil.rmtree(generation / "shards")
    _archive_wide_tables(generation, [generation])
    (generation / "checksums.json").unlink()
    manifest = json.loads((generation / "manifest.json").read_text())
    for key in ("shards", "shard_by", "checksummed"):
        manifest.pop(key)
    (generation / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 3}))
    engine = Engine(index, embedder=embedder)
    assert [s["name"] for s in engine.stats()["shards"]] == [WHOLE]
    expected = Engine(layouts["none"], embedder=embedder).search("Wahl").hits
    assert [h.id for h in engine.search("Wahl").hits] == [h.id for h in expected]
    engine.write([Article(id="neu-2", title="Noch ein Bericht", body="Text.", date="2005")])
    assert engine.get("neu-2").title == "Noch ein Bericht"


def test_a_generation_with_archive_wide_tables_opens_and_its_next_write_splits_them(
    layouts: dict[str, Path], engines: dict[str, Engine], tmp_path: Path, embedder: Embedder
) -> None:
    """A schema 4 generation: one neighbour table and one stories file for the whole
    archive, in the generation folder. It ranks as before; a write stores both per shard."""
    index = _copy(layouts["year"], tmp_path / "index")
    generation = index / (index / CURRENT_FILE).read_text().strip()
    table = _archive_wide_tables(generation, shard_folders(generation))
    manifest = json.loads((generation / "manifest.json").read_text())
    (generation / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 4}))
    write_checksums(generation)
    engine = Engine(index, embedder=embedder)
    example = next(a.id for a in engine.articles() if len(a.body.split()) > 100)
    for article_id in (example, *table.ids[::97]):
        assert [h.id for h in engine.similar(article_id=article_id).hits] == [
            h.id for h in engines["year"].similar(article_id=article_id).hits
        ]
    copy = Article(id="neu-3", title="Ein Bericht", body=engine.get(example).body, date="2005")
    engine.write([copy])
    after = engine.folder.current()
    assert Manifest.load(after).schema_version == SCHEMA_VERSION
    assert not (after / NEIGHBOURS_FILE).exists() and not (after / STORIES_FILE).exists()
    assert all((f / NEIGHBOURS_FILE).exists() for f in shard_folders(after))
    assert engine.get("neu-3").story == (engine.get(example).story or example)
    cli = CliRunner().invoke(main, ["check", "--index", str(index)])
    assert cli.exit_code == 0, cli.output


def test_an_index_from_two_versions_back_asks_for_a_rebuild_in_one_line(
    layouts: dict[str, Path], tmp_path: Path
) -> None:
    index = _copy(layouts["none"], tmp_path / "index")
    generation = index / (index / CURRENT_FILE).read_text().strip()
    manifest = json.loads((generation / "manifest.json").read_text())
    (generation / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 2}))
    result = CliRunner().invoke(main, ["stats", "--index", str(index)])
    assert result.exit_code == EXIT_ERROR
    assert result.output.count("\n") == 1 and "rebuild" in result.output


@pytest.mark.slow
def test_every_judged_query_ranks_the_same_in_yearly_shards_and_in_one(
    tmp_path: Path, embedder: Embedder
) -> None:
    """The judged dev queries over 10kGNAD (undated) and wikinews-de (dated, 2004-2020):
    lexical top 10 and scores equal, hybrid and semantic top 10 equal for 95%."""
    queries = [
        json.loads(line)["query"]
        for line in (SHARED / "queries" / "10kgnad-dev.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    built = {}
    for by in ("year", "none"):
        Engine.rebuild([DATED, UNDATED_CORPUS], tmp_path / by, embedder=embedder, shard_by=by)
        built[by] = Engine(tmp_path / by, embedder=embedder)
    assert len(built["year"]._current().shards) > 10
    same = {"hybrid": 0, "semantic": 0}
    for query in queries:
        for mode in ("lexical", "hybrid", "semantic"):
            a = built["year"].search(query, mode=mode, facets=True)
            b = built["none"].search(query, mode=mode, facets=True)
            ids = [h.id for h in a.hits] == [h.id for h in b.hits]
            if mode != "lexical":
                same[mode] += ids
                continue
            assert ids and a.total == b.total and a.facets == b.facets, query
            for x, y in zip(a.hits, b.hits, strict=True):
                assert x.scores.lexical == pytest.approx(y.scores.lexical, rel=1e-6), query
    for mode, count in same.items():
        assert count >= 0.95 * len(queries), (mode, count, len(queries))
