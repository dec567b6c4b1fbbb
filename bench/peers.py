"""The pipelines our engine is compared with, built and queried the same way.

- ``tantivy``: the fast lexical peer a user would pick instead of Whoosh (Rust BM25,
  Python bindings), with a German stemming analyzer and the same field boosts.
- ``naive``: what one writes first with the same parts: one process, the Whoosh
  writer and then the embedder one after the other, an exact flat FAISS index, no
  query grounding and no snippets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import numpy as np
import tantivy

from search.ingest.article import Article
from search.ingest.indexing import BATCH_ARTICLES, batches, embed_articles
from search.ingest.passages import PassageSettings
from search.ingest.readers import ReadReport, read_articles
from search.lexical.index import LexicalIndex
from search.lexical.parse import FIELD_BOOSTS, TEXT_FIELDS
from search.retrieval.fusion import reciprocal_rank_fusion
from search.retrieval.plan import semantic_text
from search.semantic.embedders import UniversalSentenceEncoder
from search.semantic.vectors import VectorIndex
from search.storage.folder import IndexFolder
from search.storage.generations import Generation

DEPTH = 100
TANTIVY_ANALYZER = "german"
TANTIVY_HEAP = 256 * 1024 * 1024
# The model as the engine first ran it for a rebuild: one process, two BLAS threads.
NAIVE_THREADS = 2


def articles_of(source: Path) -> Iterator[Article]:
    return read_articles([source], ReadReport())


# -- tantivy -----------------------------------------------------------------------------


def _tantivy_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        builder.add_text_field(name, stored=True, tokenizer_name=TANTIVY_ANALYZER)
    return builder.build()


def _open_tantivy(folder: Path) -> tantivy.Index:
    index = tantivy.Index(_tantivy_schema(), path=str(folder))
    analyzer = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("german"))
        .build()
    )
    index.register_tokenizer(TANTIVY_ANALYZER, analyzer)
    return index


def build_tantivy(source: Path, folder: Path) -> dict[str, float]:
    """Index every article (title, lead, body) and commit; return counts and seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    index = _open_tantivy(folder)
    writer = index.writer(heap_size=TANTIVY_HEAP)
    count = chars = 0
    for article in articles_of(source):
        document = tantivy.Document(
            id=article.id, title=article.title, lead=article.lead, body=article.body
        )
        writer.add_document(document)
        count += 1
        chars += len(article.title) + len(article.lead) + len(article.body)
    writer.commit()
    writer.wait_merging_threads()
    return {"articles": count, "chars": chars, "seconds": time.perf_counter() - started}


class TantivySearch:
    """BM25 over title, lead and body with the engine's field boosts."""

    def __init__(self, folder: Path) -> None:
        self._index = _open_tantivy(folder)
        self._index.reload()
        self._searcher = self._index.searcher()

    def search(self, text: str) -> list[str]:
        query, _errors = self._index.parse_query_lenient(
            text, list(TEXT_FIELDS), field_boosts={f: FIELD_BOOSTS[f] for f in TEXT_FIELDS}
        )
        hits = self._searcher.search(query, DEPTH).hits
        return [self._searcher.doc(address)["id"][0] for _score, address in hits]


# -- the naive pipeline ------------------------------------------------------------------


def build_naive(
    source: Path, folder: Path, embed_limit: int | None = None, copy_from: Path | None = None
) -> dict[str, float]:
    """Whoosh, then embeddings, then a flat FAISS index, one after the other in one process.

    Its embedding step is the model's embedding-only throughput in one process, the
    way the engine ran it before it used worker processes. With ``embed_limit``, only
    that many articles are embedded and timed; the rest of the vectors are copied
    from the engine's index at ``copy_from``, which embedded the same passages with
    the same model. Embedding 100k articles this way takes 2.4 hours on two cores,
    and copying leaves the index, and so its query latency, what it would have been.
    """
    settings = PassageSettings()
    lexical = LexicalIndex.create(folder / "lexical")
    started = time.perf_counter()
    count = chars = 0
    with lexical.writer(fresh=True) as writer:
        for article in articles_of(source):
            writer.upsert(article)
            count += 1
            chars += len(article.title) + len(article.lead) + len(article.body)
    lexical.close()
    lexical_seconds = time.perf_counter() - started

    embedder = UniversalSentenceEncoder(threads=NAIVE_THREADS)
    vectors = VectorIndex(embedder.dim)
    embed_seconds = 0.0
    embedded = embedded_chars = 0
    for batch in batches(islice(articles_of(source), embed_limit), BATCH_ARTICLES):
        embed_started = time.perf_counter()
        matrices = embed_articles(batch, embedder, settings)
        embed_seconds += time.perf_counter() - embed_started
        for article, matrix in zip(batch, matrices, strict=True):
            vectors.add(article.id, matrix)
            embedded += 1
            embedded_chars += len(article.title) + len(article.lead) + len(article.body)
    copied_difference = 0.0
    if embedded < count:
        if copy_from is None:
            raise ValueError("embed_limit below the article count needs copy_from")
        # Every shard of the engine's live generation, read as one archive.
        engine_vectors = Generation(IndexFolder(copy_from).lease_current()).vectors
        for article in articles_of(source):
            matrix = engine_vectors.vectors_of(article.id)
            if article.id in vectors:
                copied_difference = max(
                    copied_difference,
                    float(np.abs(matrix - vectors.vectors_of(article.id)).max()),
                )
            else:
                vectors.add(article.id, matrix)
    vectors.save(folder)
    # Seconds the whole embedding step would take at the timed rate.
    embed_total = embed_seconds * chars / embedded_chars
    return {
        "articles": count,
        "chars": chars,
        "passages": vectors.passage_count,
        "lexical_seconds": lexical_seconds,
        "embed_seconds": embed_total,
        "embedded": embedded,
        "copied_difference": copied_difference,
        "seconds": lexical_seconds + embed_total,
    }


class NaiveSearch:
    """Whoosh BM25F for any word, an exact scan of every passage, RRF for hybrid."""

    def __init__(self, folder: Path) -> None:
        self._lexical = LexicalIndex(folder / "lexical")
        self._vectors = VectorIndex.load(folder)
        # One query at a time gains nothing from a second BLAS thread, and its
        # spin-waiting after each query would slow the contender timed next to it.
        self._embedder = UniversalSentenceEncoder(threads=1)
        self._embedder.encode(["warm-up"])

    def lexical(self, text: str) -> list[str]:
        return [a for a, _ in self._lexical.search(self._lexical.parser.parse(text), DEPTH).ranked]

    def semantic(self, text: str) -> list[str]:
        vector = self._embedder.encode([semantic_text(text)])[0]
        return [h.article_id for h in self._vectors.search(vector, DEPTH)]

    def hybrid(self, text: str) -> list[str]:
        fused = reciprocal_rank_fusion([self.lexical(text), self.semantic(text)])
        return [article_id for article_id, _score in fused[:10]]
