"""Rebuild's embedding: worker processes give the same vectors, in order, as in-process."""

from __future__ import annotations

import numpy as np

from search.ingest.article import Article
from search.ingest.indexing import embed_articles, embedded_batches
from search.ingest.passages import PassageSettings
from search.semantic.embedders import Embedder

from .conftest import TINY_ARTICLES


def _batches() -> list[list[Article]]:
    articles = [
        Article(id=a["id"], title=a["title"], body=a["text"], category=a["category"])
        for a in TINY_ARTICLES
    ]
    return [articles[:2], articles[2:3], articles[3:]]


def test_worker_processes_embed_like_the_model_in_process(embedder: Embedder) -> None:
    settings = PassageSettings(max_chars=80)
    read: list[list[str]] = []
    parallel = list(
        embedded_batches(
            _batches(),
            embedder,
            settings,
            lambda batch: read.append([a.id for a in batch]),
            parallel_after=2,  # the first batch in-process, the rest in two workers
            workers=2,
        )
    )
    assert [[a.id for a in batch] for batch, _ in parallel] == read
    assert read == [[a.id for a in batch] for batch in _batches()]
    for batch, matrices in parallel:
        expected = embed_articles(batch, embedder, settings)
        assert [m.shape for m in matrices] == [m.shape for m in expected]
        for got, want in zip(matrices, expected, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5)
