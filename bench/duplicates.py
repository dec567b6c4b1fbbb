"""Agency copies: precision and recall of the story grouping, and MinHash vs. vectors.

Constructed pairs: for articles of the German corpora (10kGNAD, Wikinews), a copy
as another outlet would run it: another headline, an agency dateline in front, one
sentence replaced by a sentence of another article and, for half of them, the last
one or two sentences cut. Originals and copies are grouped together (shuffled), so
every pair of articles that shares a story is either a constructed pair (right) or
not (wrong): precision counts over all grouped pairs, recall over the constructed
ones. Real copies: the Reuters corpus marks 230 exact duplicates; how many it groups
beyond those is counted and a sample is printed to be read.

The vector side compares the centroids of the articles' passage vectors (the
packaged model), all pairs, on a subset (embedding is the slow part).

    python -m bench.duplicates [--pairs 400] [--vector-pairs 120] [--scale 100000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from pathlib import Path

import numpy as np

from search.ingest.article import Article, split_sentences
from search.ingest.duplicates import NUM_PERM, Stories, signature, similarity
from search.ingest.passages import PassageSettings, split_passages

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
GERMAN = ("10kgnad", "wikinews-de")
DATELINES = ("Linz (APA) - ", "Berlin (dpa) - ", "Hamburg (AFP). ", "(Reuters) ")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def load(name: str) -> list[dict[str, str]]:
    with (CORPORA / name / "articles.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def copy_of(text: str, other: str, rng: random.Random) -> str:
    """The text as another outlet runs it: dateline, one sentence swapped, maybe cut."""
    sentences = split_sentences(text)
    foreign = split_sentences(other)
    if len(sentences) > 2 and foreign:
        sentences[rng.randrange(1, len(sentences))] = rng.choice(foreign)
    if rng.random() < 0.5 and len(sentences) > 4:
        sentences = sentences[: -rng.choice((1, 2))]
    return rng.choice(DATELINES) + " ".join(sentences)


def constructed(pairs: int, rng: random.Random) -> tuple[dict[str, str], set[frozenset[str]]]:
    articles = [a for name in GERMAN for a in load(name)]
    texts = {a["id"]: a["text"] for a in articles}
    chosen = rng.sample(articles, pairs)
    truth = set()
    for article in chosen:
        other = rng.choice(articles)["text"]
        texts[f"{article['id']}~copy"] = copy_of(article["text"], other, rng)
        truth.add(frozenset((article["id"], f"{article['id']}~copy")))
    return texts, truth


def grouped_pairs(texts: dict[str, str], threshold: float, rng: random.Random) -> set[frozenset]:
    order = list(texts)
    rng.shuffle(order)
    stories = Stories(threshold)
    for article_id in order:
        stories.assign(article_id, texts[article_id])
    members: dict[str, list[str]] = {}
    for article_id, story in stories.story_of.items():
        members.setdefault(story, []).append(article_id)
    return {
        frozenset(pair) for group in members.values() for pair in itertools.combinations(group, 2)
    }


def scores(found: set[frozenset], truth: set[frozenset]) -> tuple[float, float]:
    right = len(found & truth)
    return right / max(len(found), 1), right / len(truth)


def minhash_table(texts: dict[str, str], truth: set[frozenset], seed: int) -> None:
    comparable = {p for p in truth if all(signature(texts[i]) is not None for i in p)}
    print(f"MinHash/LSH grouping over {len(texts)} articles, {len(truth)} constructed pairs")
    print(f"({len(comparable)} of them with both bodies of at least 40 words)")
    print("threshold  precision  recall  recall(>=40 words)  seconds")
    for threshold in THRESHOLDS:
        started = time.perf_counter()
        found = grouped_pairs(texts, threshold, random.Random(seed))
        precision, recall = scores(found, truth)
        long_recall = len(found & comparable) / max(len(comparable), 1)
        seconds = time.perf_counter() - started
        row = f"{threshold:9.1f}  {precision:9.3f}  {recall:6.3f}  {long_recall:18.3f}"
        print(f"{row}  {seconds:7.1f}")


def vector_table(
    texts: dict[str, str], truth: set[frozenset], pairs: int, rng: random.Random
) -> None:
    from search.semantic.embedders import load_embedder

    originals = sorted({next(iter(p - {i for i in p if i.endswith("~copy")})) for p in truth})
    keep = set(rng.sample(originals, min(pairs, len(originals))))
    subset = {i: t for i, t in texts.items() if i.split("~")[0] in keep}
    sub_truth = {p for p in truth if all(i in subset for i in p)}
    embedder = load_embedder()
    settings = PassageSettings()
    started = time.perf_counter()
    ids = list(subset)
    centroids = []
    for article_id in ids:
        passages = split_passages(Article(id=article_id, body=subset[article_id]), settings)
        vectors = embedder.encode(passages)
        centroid = vectors.mean(axis=0)
        centroids.append(centroid / np.linalg.norm(centroid))
    matrix = np.stack(centroids)
    cosine = matrix @ matrix.T
    seconds = time.perf_counter() - started
    signatures = {i: signature(subset[i]) for i in ids}
    print(
        f"\nAll pairs of {len(ids)} articles ({len(sub_truth)} constructed pairs); "
        f"embedding took {seconds:.0f}s"
    )
    print("method           threshold  precision  recall")
    for threshold in (0.85, 0.9, 0.95, 0.97):
        found = {
            frozenset((ids[a], ids[b]))
            for a, b in zip(*np.nonzero(np.triu(cosine, 1) >= threshold), strict=True)
        }
        precision, recall = scores(found, sub_truth)
        print(f"centroid cosine  {threshold:9.2f}  {precision:9.3f}  {recall:6.3f}")
    for threshold in (0.4, 0.5):
        found = {
            frozenset((a, b))
            for a, b in itertools.combinations(ids, 2)
            if signatures[a] is not None
            and signatures[b] is not None
            and similarity(signatures[a], signatures[b]) >= threshold
        }
        precision, recall = scores(found, sub_truth)
        print(f"MinHash Jaccard  {threshold:9.2f}  {precision:9.3f}  {recall:6.3f}")


def reuters(threshold: float, sample: int, rng: random.Random) -> None:
    articles = load("reuters21578")
    by_id = {a["id"]: a for a in articles}
    stories = Stories(threshold)
    started = time.perf_counter()
    for article in articles:
        stories.assign(article["id"], article["text"])
    seconds = time.perf_counter() - started
    marked = {a["id"] for a in articles if a.get("duplicate_of")}
    grouped = {i for i, s in stories.story_of.items() if s != i}
    print(
        f"\nReuters-21578, {len(articles)} articles, grouped in {seconds:.0f}s "
        f"({len(articles) / seconds:.0f} articles/s)"
    )
    print(f"marked exact duplicates: {len(marked)}, grouped: {len(marked & grouped)}")
    extra = sorted(grouped - marked)
    print(f"grouped beyond the marked ones: {len(extra)}; a sample to read:")
    for article_id in rng.sample(extra, min(sample, len(extra))):
        story = stories.story_of[article_id]
        print(f"  {by_id[article_id]['title'][:60]!r}  ~  {by_id[story]['title'][:60]!r}")


def scale(stored: int, memory_sample: int) -> None:
    """Grouping against a large archive: loading its signatures, comparing one article."""
    import tempfile
    import tracemalloc

    rng = np.random.default_rng(0)
    stories = Stories()
    stories._stored = rng.integers(0, 2**32 - 1, size=(stored, NUM_PERM), dtype=np.uint32)
    stories._stored_ids = [f"s{i}" for i in range(stored)]
    stories._alive = np.ones(stored, bool)
    stories._stored_row = {i: r for r, i in enumerate(stories._stored_ids)}
    stories.story_of = {i: i for i in stories._stored_ids}
    articles = load("10kgnad")[:200]
    with tempfile.TemporaryDirectory() as tmp:
        stories.save(Path(tmp))
        started = time.perf_counter()
        loaded = Stories.load(Path(tmp))
        load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for article in articles:
        loaded.assign(article["id"], article["text"])
    per_article = (time.perf_counter() - started) / len(articles) * 1000
    print(
        f"\n{stored:,} stored signatures: loaded in {load_seconds:.2f}s; "
        f"an added article compared in {per_article:.1f} ms"
    )
    briefs = load("reuters21578")[:memory_sample]
    tracemalloc.start()
    fresh = Stories()
    for article in briefs:
        fresh.assign(article["id"], article["text"])
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"a rebuild grouping {len(briefs):,} Reuters briefs holds {held / 1e6:.1f} MB "
        f"({held / len(briefs) / 1e3:.1f} KB an article)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--vector-pairs", type=int, default=0)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--scale", type=int, default=0, help="also time N stored signatures")
    parser.add_argument("--only-scale", action="store_true")
    args = parser.parse_args()
    if args.scale:
        scale(args.scale, 5000)
    if args.only_scale:
        return
    rng = random.Random(args.seed)
    texts, truth = constructed(args.pairs, rng)
    minhash_table(texts, truth, args.seed)
    if args.vector_pairs:
        vector_table(texts, truth, args.vector_pairs, rng)
    reuters(0.5, args.sample, rng)


if __name__ == "__main__":
    main()
