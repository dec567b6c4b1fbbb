"""Passage embedding as Ray work: an actor pool with one model per actor.

Embedding is about 90% of a rebuild's CPU time, so it is the part a cluster
takes over. Each actor loads the model once and embeds batches of articles with
the function the local path uses (``search.ingest.indexing.embed_articles``), so
the vectors are the local ones. Articles travel as JSON text and come back with
their passage matrices, in whatever order the actors finish.

The driver feeds the articles in windows of ``WINDOW_ARTICLES``: a Ray dataset is
built from items held in memory, and the archive need not fit there. A lost node
costs only its unfinished batches, which Ray retries on an actor restarted
elsewhere (the pool's actors restart without limit).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator

import numpy as np

from search.ingest.article import Article
from search.ingest.indexing import BATCH_ARTICLES, batches, embed_articles
from search.ingest.passages import PassageSettings
from search.semantic.embedders import Embedder, load_embedder

WINDOW_ARTICLES = 8192


class PassageEmbedder:
    """One actor of the pool: the model, loaded once, and the passage settings."""

    def __init__(self, model: str, settings: dict[str, int | str]) -> None:
        self.embedder: Embedder = load_embedder(model)
        self.settings = PassageSettings(**settings)  # type: ignore[arg-type]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        articles = [Article(**json.loads(text)) for text in batch["article"]]
        matrices = embed_articles(articles, self.embedder, self.settings)
        # One object per row, so matrices of different heights stay separate arrays.
        vectors = np.empty(len(matrices), dtype=object)
        for row, matrix in enumerate(matrices):
            vectors[row] = matrix
        return {"article": batch["article"], "vectors": vectors}


def embed_on_cluster(
    articles: Iterable[Article],
    model: str,
    settings: PassageSettings,
    workers: int,
    gpus_per_worker: float = 0.0,
    batch_articles: int = BATCH_ARTICLES,
    window: int = WINDOW_ARTICLES,
) -> Iterator[tuple[Article, np.ndarray]]:
    """Each article with its passage vectors, embedded by ``workers`` actors of the cluster.

    Needs a connected cluster (``search.cluster.connect``). Every article comes
    back exactly once, not necessarily in input order. A batch of
    ``batch_articles`` is the unit an actor embeds, and so the unit a lost node
    costs and Ray retries.
    """
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    for chunk in batches(articles, window):
        items = [{"article": json.dumps(article.to_dict())} for article in chunk]
        # One block per batch, each block one call of an actor.
        dataset = ray.data.from_items(
            items, override_num_blocks=-(-len(items) // batch_articles)
        ).map_batches(
            PassageEmbedder,
            fn_constructor_args=(model, settings.to_dict()),
            batch_size=None,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            num_gpus=gpus_per_worker,
        )
        for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
            for text, matrix in zip(batch["article"], batch["vectors"], strict=True):
                yield Article(**json.loads(text)), np.asarray(matrix, dtype=np.float32)
