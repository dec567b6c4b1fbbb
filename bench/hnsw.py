"""HNSW build time and recall against exact search, by efConstruction and efSearch.

    python -m bench.hnsw bench/out/idx/100000/ours --source bench/out/articles-100000.jsonl

Rebuilds the graph of an index's largest shard (HNSW over 8-bit codes, as served;
same vectors, same order) once per efConstruction, then searches it as the engine
does (article-level hits, twice as many passages as articles wanted) with every
efSearch. The probes are the real
ones: the 10kGNAD dev queries, embedded, and the centroids of 100 stored articles,
what similar-article requests search with. The truth is an exact scan of the same
vectors; an article as close as the exact tenth counts as found (ties: see
``bench.phases.vector_recall``). This is how ``search.semantic.vectors`` got its HNSW
settings (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import faiss
import numpy as np

from bench.phases import TIE, sample_ids
from bench.run import load_queries
from search.engine import Engine
from search.retrieval.plan import semantic_text
from search.semantic.embedders import UniversalSentenceEncoder
from search.semantic.vectors import HNSW_M, PASSAGE_BITS


def distinct_articles(
    passage_ids: np.ndarray, scores: np.ndarray, depth: int
) -> list[tuple[int, float]]:
    """The first ``depth`` distinct article keys among ranked passage ids, with the
    score of each one's best passage."""
    found: dict[int, float] = {}
    for passage_id, score in zip(passage_ids, scores, strict=True):
        key = int(passage_id) >> PASSAGE_BITS
        if passage_id >= 0 and key not in found:
            found[key] = float(score)
            if len(found) == depth:
                break
    return list(found.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--source", type=Path, required=True, help="articles, for probe ids")
    parser.add_argument("--construction", type=int, nargs="+", default=[40, 120])
    parser.add_argument("--search", type=int, nargs="+", default=[400, 800, 1600])
    parser.add_argument("--depth", type=int, default=10, help="articles per probe (recall@depth)")
    args = parser.parse_args()

    # The largest shard: the one whose graph a query walks longest.
    shards = Engine(args.index)._current().vectors.shards
    vectors = max(shards, key=lambda shard: shard.passage_count)
    if vectors.exact:
        parser.error(f"{args.index} has only exact shards; HNSW serves only larger ones")
    served = vectors._index  # the IndexIDMap2 around the served graph
    ids = faiss.vector_to_array(served.id_map).astype(np.int64)
    matrix = served.index.reconstruct_n(0, served.ntotal)
    encoder = UniversalSentenceEncoder(threads=1)
    probes = list(encoder.encode([semantic_text(q) for q in load_queries()]))
    for article_id in sample_ids(args.source, 100):
        probes.append(vectors.centroid(article_id))
    probe_matrix = np.asarray(probes, dtype=np.float32)
    passages = max(args.depth * 2, 32)  # as VectorIndex.search asks for its first pass

    exact = faiss.IndexFlatIP(vectors.dim)
    exact.add(matrix)
    exact_scores, rows = exact.search(probe_matrix, passages * 8)
    truth = [
        distinct_articles(ids[r], s, args.depth) for r, s in zip(rows, exact_scores, strict=True)
    ]  # an exact scan of every vector fills all its slots

    threads = faiss.omp_get_max_threads()
    print(f"{len(matrix):,} passages, {len(probe_matrix)} probes, recall@{args.depth}")
    print("| efConstruction | build s | efSearch | recall | search ms p50 |")
    print("|---:|---:|---:|---:|---:|")
    for construction in args.construction:
        graph = faiss.IndexHNSWSQ(
            vectors.dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT
        )
        graph.hnsw.efConstruction = construction
        started = time.perf_counter()
        graph.train(matrix)
        graph.add(matrix)
        build = time.perf_counter() - started
        faiss.omp_set_num_threads(1)  # one query at a time, as the engine searches
        for breadth in args.search:
            params = faiss.SearchParametersHNSW(efSearch=max(passages, breadth))
            shares, times = [], []
            for probe, best in zip(probe_matrix, truth, strict=True):
                started = time.perf_counter()
                scores, found = graph.search(probe.reshape(1, -1), passages, params=params)
                times.append(time.perf_counter() - started)
                ranked = np.where(found[0] >= 0, ids[np.maximum(found[0], 0)], -1)
                wanted, tenth = {key for key, _ in best}, best[-1][1] - TIE
                got = distinct_articles(ranked, scores[0], args.depth)
                shares.append(sum(k in wanted or s >= tenth for k, s in got) / len(best))
            print(
                f"| {construction} | {build:.0f} | {breadth} | {np.mean(shares):.4f} "
                f"| {np.median(times) * 1000:.2f} |"
            )
        faiss.omp_set_num_threads(threads)  # every core again for the next build


if __name__ == "__main__":
    main()
