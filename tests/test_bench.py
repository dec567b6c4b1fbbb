"""The benchmark's own parts: the article generator, the peers and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.generate import DEFAULT_CORPUS, generate, load_categories, write
from bench.hnsw import distinct_articles
from bench.measure import percentiles, run_phase
from bench.peers import TantivySearch, build_tantivy
from bench.quality_ranks import MODES, QUERY_SETS, compare
from bench.report import markdown
from search.evaluate import load_queries
from search.ingest.article import split_sentences
from search.semantic.vectors import PASSAGE_BITS


def test_generated_articles_are_deterministic_and_shaped_like_the_corpus(tmp_path: Path) -> None:
    first = write(300, tmp_path / "a.jsonl", seed=3)
    again = write(300, tmp_path / "b.jsonl", seed=3)
    other = write(300, tmp_path / "c.jsonl", seed=4)
    assert first.read_bytes() == again.read_bytes() != other.read_bytes()

    records = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records[:2]] == ["bench-000001", "bench-000002"]
    categories, lengths = load_categories(DEFAULT_CORPUS)
    sentences = {c.name: {s for d in c.documents for s in d} for c in categories}
    # Body sentences come from articles of the record's own category (re-splitting the
    # joined text cuts a few differently, at abbreviations such as "Am 17. Mai").
    own = [
        sentence in sentences[record["category"]]
        for record in records
        for sentence in split_sentences(record["text"])
    ]
    assert sum(own) / len(own) > 0.9
    sizes = sorted(len(r["lead"]) + len(r["text"]) for r in records)
    real_median = lengths[len(lengths) // 2]
    assert 0.7 * real_median < sizes[len(sizes) // 2] < 1.3 * real_median


def test_short_articles_for_the_quick_run() -> None:
    assert all(len(r["lead"]) + len(r["text"]) < 800 for r in generate(50, max_chars=300))


def test_tantivy_peer_finds_what_it_indexed(tmp_path: Path) -> None:
    source = write(40, tmp_path / "articles.jsonl")
    built = build_tantivy(source, tmp_path / "tantivy")
    assert built["articles"] == 40
    target = json.loads(source.read_text(encoding="utf-8").splitlines()[7])
    assert TantivySearch(tmp_path / "tantivy").search(target["lead"])[0] == target["id"]


def _allocate(megabytes: int) -> dict[str, int]:
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    return {"size": len(block)}


def test_a_phase_runs_in_its_own_process_and_reports_its_peak_memory() -> None:
    result = run_phase(_allocate, 300)
    assert result["size"] == 300 * 1024 * 1024
    assert result["peak_mb"] >= 300


def test_the_report_puts_peers_beside_ours() -> None:
    latency = percentiles([0.010, 0.020, 0.030, 0.040])
    assert latency["p50"] == 25.0 and latency["n"] == 4
    run = {
        "size": 1000,
        "rebuild": {
            "articles": 1000,
            "mb": 2.0,
            "seconds": 20.0,
            "articles_per_s": 50.0,
            "mb_per_s": 0.1,
            "passages": 5000,
            "vector_index": "exact",
        },
        "ceiling": {"articles_per_s": 55.0, "mb_per_s": 0.11, "seconds": 18.0},
        "query_ours": {"lexical": latency},
        "query_tantivy": {"lexical": {**latency, "p95": 3.85}},
    }
    tables = markdown([run])
    assert "| **ours: rebuild** (lexical + semantic together) | 50.0 | 0.100 |" in tables
    assert (
        "| embedding only, one model per core (ceiling) | 55.0 | 0.110 | 18.0 | 0.91x |" in tables
    )
    assert "| tantivy lexical, in-process | 25.00 | 3.85 |" in tables


def test_hnsw_recall_counts_articles_not_passages() -> None:
    # Two passages of article 3, then article 5, a missing slot (-1) and article 7.
    bits = PASSAGE_BITS
    ranked = np.array([(3 << bits) | 1, 3 << bits, 5 << bits, -1, 7 << bits])
    scores = np.array([0.9, 0.8, 0.7, 0.0, 0.6])
    assert distinct_articles(ranked, scores, 2) == [(3, 0.9), (5, 0.7)]
    assert [key for key, _ in distinct_articles(ranked, scores, 10)] == [3, 5, 7]


BASELINE = Path(__file__).parent / "data" / "quality-baseline.json"


def test_the_quality_baseline_covers_every_judged_query() -> None:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    for name, path in QUERY_SETS.items():
        qids = {q.qid for q in load_queries(path)}
        for mode in MODES:
            assert set(baseline["ranks"][name][mode]) == qids, (name, mode)


def test_a_quality_comparison_names_the_queries_that_moved() -> None:
    before = json.loads(BASELINE.read_text(encoding="utf-8"))
    after = json.loads(json.dumps(before))
    qid = sorted(after["ranks"]["dev"]["hybrid"])[0]
    after["ranks"]["dev"]["hybrid"][qid] = 11  # out of the top 10
    report = compare(before, after)
    old = before["ranks"]["dev"]["hybrid"][qid]
    assert f"  hybrid {qid}: rank {old} -> 11" in report
    assert report.count(": rank ") == 1  # nothing else moved
    assert "| hybrid |" in report and "heldout-3-misspelt |" in report
