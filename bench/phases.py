"""Benchmark phases; each runs in its own child process (see ``measure.run_phase``).

Every phase returns plain numbers (seconds, counts, latencies in ms) so the parent
can print, save and plot them without importing what the phase imported.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index

from bench.measure import Result, folder_mb, percentiles
from bench.peers import NaiveSearch, TantivySearch, articles_of, build_naive, build_tantivy
from search.engine import Engine
from search.ingest.indexing import BATCH_ARTICLES, batches, embedded_batches
from search.ingest.passages import PassageSettings
from search.lexical.index import LexicalIndex
from search.lexical.schema import LexicalWriter
from search.retrieval.plan import semantic_text
from search.semantic.embedders import UniversalSentenceEncoder
from search.semantic.vectors import VectorIndex

MODES = ("lexical", "semantic", "hybrid")
RECALL_AT = 10
TIE = 1e-5  # inner products this close are the same passage stored twice


def _chars(source: Path, limit: int | None = None) -> tuple[int, int]:
    count = chars = 0
    for article in islice(articles_of(source), limit):
        count += 1
        chars += len(article.title) + len(article.lead) + len(article.body)
    return count, chars


def _rates(count: int, chars: int, seconds: float) -> Result:
    return {
        "articles": count,
        "mb": round(chars / 1e6, 2),
        "seconds": round(seconds, 2),
        "articles_per_s": round(count / seconds, 1),
        "mb_per_s": round(chars / 1e6 / seconds, 4),
    }


# -- building ----------------------------------------------------------------------------


def rebuild(source: Path, index: Path) -> Result:
    """The engine's rebuild, end to end: read, embed, index, commit, optimize, save."""
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    _engine, report = Engine.rebuild([source], index)
    seconds = time.perf_counter() - started
    stats = report.stats
    result = _rates(stats.articles, stats.chars, seconds)
    vectors = Engine(index)._current().vectors
    result.update(
        passages=stats.passages,
        index_mb=folder_mb(index),
        vector_index="exact" if vectors.exact else "hnsw",
    )
    return result


def embed_only(source: Path, limit: int, parallel: bool) -> Result:
    """Embedding alone, no index: the model's ceiling, in one process or one per core."""
    settings = PassageSettings()
    count, chars = _chars(source, limit)
    started = time.perf_counter()
    if parallel:
        chunks = batches(islice(articles_of(source), limit), BATCH_ARTICLES)
        embedder = UniversalSentenceEncoder(threads=1)
        for _batch in embedded_batches(chunks, embedder, settings, lambda _b: None, 0):
            pass
    else:
        embedder = UniversalSentenceEncoder(threads=2)
        for _batch in embedded_batches(
            batches(islice(articles_of(source), limit), BATCH_ARTICLES),
            embedder,
            settings,
            lambda _b: None,
            workers=1,
        ):
            pass
    return _rates(count, chars, time.perf_counter() - started)


def lexical_only(source: Path, folder: Path, procs: int) -> Result:
    """The Whoosh side alone; ``procs`` > 1 uses Whoosh's multi-process writer."""
    shutil.rmtree(folder, ignore_errors=True)
    LexicalIndex.create(folder).close()
    count, chars = _chars(source)
    started = time.perf_counter()
    writer = whoosh_index.open_dir(str(folder)).writer(
        limitmb=256, procs=procs, multisegment=procs > 1
    )
    put = LexicalWriter(writer, fresh=True, passages=PassageSettings())
    for article in articles_of(source):
        put.upsert(article)
    writer.commit()
    result = _rates(count, chars, time.perf_counter() - started)
    result["index_mb"] = folder_mb(folder)
    return result


def naive_build(
    source: Path, folder: Path, embed_limit: int | None, copy_from: Path | None
) -> Result:
    shutil.rmtree(folder, ignore_errors=True)
    built = build_naive(source, folder, embed_limit, copy_from)
    result = _rates(int(built["articles"]), int(built["chars"]), built["seconds"])
    result.update(
        lexical_seconds=round(built["lexical_seconds"], 2),
        embed_seconds=round(built["embed_seconds"], 2),
        embed_mb_per_s=round(built["chars"] / 1e6 / built["embed_seconds"], 4),
        embed_articles_per_s=round(built["articles"] / built["embed_seconds"], 1),
        embedded=int(built["embedded"]),
        copied_difference=built["copied_difference"],
        index_mb=folder_mb(folder),
    )
    return result


def tantivy_build(source: Path, folder: Path) -> Result:
    shutil.rmtree(folder, ignore_errors=True)
    built = build_tantivy(source, folder)
    result = _rates(int(built["articles"]), int(built["chars"]), built["seconds"])
    result["index_mb"] = folder_mb(folder)
    return result


# -- querying ----------------------------------------------------------------------------


def _latencies(call: Callable[[str], object], items: list[str], repeat: int) -> dict[str, float]:
    for item in items[:5]:
        call(item)  # warm caches and lazy loads before timing
    times = []
    for _ in range(repeat):
        for item in items:
            started = time.perf_counter()
            call(item)
            times.append(time.perf_counter() - started)
    return percentiles(times)


def query_ours(index: Path, queries: list[str], similar_ids: list[str], repeat: int) -> Result:
    """Latency per mode and of similar articles, plus recall@10 of the vector index."""
    engine = Engine(index)
    engine.embedder.encode(["warm-up"])
    result: Result = {
        mode: _latencies(lambda q, m=mode: engine.search(q, mode=m), queries, repeat)
        for mode in MODES
    }
    result["similar"] = _latencies(lambda i: engine.similar(article_id=i), similar_ids, repeat)
    return result


def vector_recall(index: Path, queries: list[str], similar_ids: list[str]) -> Result:
    """Mean share of the exact top 10 articles that the served vector index returns.

    Query vectors are the real ones: the embedded queries and the article vectors
    that similar-article requests search with. None when the index is exact.

    An article scoring as high as the exact tenth counts as found: generated
    articles reuse the corpus' sentences, so identical passages tie at the tenth
    place (649 articles beyond it over the 220 probes at 100k), and which of them
    an exact scan lists first says nothing about the graph.
    """
    vectors = Engine(index)._current().vectors
    if vectors.exact:
        return {"recall_at_10": None}
    exact = VectorIndex(vectors.dim)
    for article_id in sorted(vectors.ids()):
        exact.add(article_id, vectors.vectors_of(article_id))
    probes = list(UniversalSentenceEncoder().encode([semantic_text(q) for q in queries]))
    for article_id in similar_ids:
        mean = vectors.vectors_of(article_id).mean(axis=0)
        probes.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    shares = []
    for vector in probes:
        truth = exact.search(vector, RECALL_AT)
        wanted = {h.article_id for h in truth}
        tenth = truth[-1].score - TIE
        found = vectors.search(vector, RECALL_AT)
        shares.append(sum(h.article_id in wanted or h.score >= tenth for h in found) / len(truth))
    return {"recall_at_10": round(float(np.mean(shares)), 4), "probes": len(shares)}


def query_naive(folder: Path, queries: list[str], repeat: int) -> Result:
    naive = NaiveSearch(folder)
    return {
        "lexical": _latencies(naive.lexical, queries, repeat),
        "semantic": _latencies(naive.semantic, queries, repeat),
        "hybrid": _latencies(naive.hybrid, queries, repeat),
    }


def query_tantivy(folder: Path, queries: list[str], repeat: int) -> Result:
    peer = TantivySearch(folder)
    return {"lexical": _latencies(peer.search, queries, repeat)}


def sample_ids(source: Path, count: int, seed: int = 1) -> list[str]:
    """A fixed random sample of article ids, for similar-article requests."""
    ids = [article.id for article in articles_of(source)]
    return random.Random(seed).sample(ids, min(count, len(ids)))
