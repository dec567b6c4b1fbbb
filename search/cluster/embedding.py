"""Passage embedding as Ray work: an actor pool with one model per actor.

Embedding is about 90% of a rebuild's CPU time, so it is the part a cluster
takes over. Each actor loads the model once and embeds batches of articles with
the function the local path uses (``search.ingest.indexing.embed_articles``), so
the vectors are the local ones. Articles travel as JSON text and come back with
their passage matrices.

The driver feeds the articles in windows of ``WINDOW_ARTICLES``: a Ray dataset is
built from items held in memory, and the archive need not fit there. A lost node
costs only its unfinished batches, which Ray retries on an actor restarted
elsewhere (the pool's actors restart without limit).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from search.cluster.connect import connect
from search.errors import ClusterError
from search.ingest.article import Article
from search.ingest.indexing import BATCH_ARTICLES, batches, embed_articles
from search.ingest.passages import PassageSettings
from search.semantic.embedders import Embedder, load_embedder

WINDOW_ARTICLES = 8192
Block = tuple[list[Article], list[np.ndarray]]


class PassageEmbedder:
    """One actor of the pool: the model, loaded once, and the passage settings."""

    def __init__(self, model: str, settings: dict[str, int | str]) -> None:
        import ray

        # An actor given a GPU (``num_gpus``) sees it as its only CUDA device.
        device = "cuda" if ray.get_gpu_ids() else "cpu"
        self.embedder: Embedder = load_embedder(model, device)
        self.settings = PassageSettings(**settings)  # type: ignore[arg-type]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        articles = [Article(**json.loads(text)) for text in batch["article"]]
        matrices = embed_articles(articles, self.embedder, self.settings)
        # One object per row, so matrices of different heights stay separate arrays.
        vectors = np.empty(len(matrices), dtype=object)
        for row, matrix in enumerate(matrices):
            vectors[row] = matrix
        return {"article": batch["article"], "vectors": vectors}


def embedded_blocks(
    articles: Iterable[Article],
    model: str,
    settings: PassageSettings,
    workers: int,
    gpus_per_worker: float = 0.0,
    batch_articles: int = BATCH_ARTICLES,
    window: int = WINDOW_ARTICLES,
    ordered: bool = False,
) -> Iterator[Block]:
    """Articles with their passage vectors, a block at a time, embedded by ``workers``
    actors of the connected cluster (``search.cluster.connect``).

    Every article comes back exactly once; in input order only if ``ordered`` (a
    finished block then waits for the ones before it). A batch of ``batch_articles``
    is the unit an actor embeds, and so the unit a lost node costs and Ray retries.
    """
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.execution_options.preserve_order = ordered
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
        for block in dataset.iter_batches(batch_format="numpy", batch_size=None):
            yield (
                [Article(**json.loads(text)) for text in block["article"]],
                [np.asarray(matrix, dtype=np.float32) for matrix in block["vectors"]],
            )


def embed_on_cluster(
    articles: Iterable[Article],
    model: str,
    settings: PassageSettings,
    workers: int,
    gpus_per_worker: float = 0.0,
    batch_articles: int = BATCH_ARTICLES,
) -> Iterator[tuple[Article, np.ndarray]]:
    """Each article with its passage vectors, in the order the actors finish them."""
    for block, matrices in embedded_blocks(
        articles, model, settings, workers, gpus_per_worker, batch_articles
    ):
        yield from zip(block, matrices, strict=True)


class ClusterEmbedding:
    """The embedding step of ``index_articles`` on the connected cluster.

    Blocks come back in input order, so a cluster rebuild writes its shards in the
    order a local one does (same documents, same vector ids). ``workers`` defaults
    to one per CPU of the cluster, or per ``gpus_per_worker`` of its GPUs.
    """

    def __init__(self, workers: int | None = None, gpus_per_worker: float = 0.0) -> None:
        self.workers = workers
        self.gpus_per_worker = gpus_per_worker

    def pool_size(self) -> int:
        import ray

        if self.workers:
            return self.workers
        resources = ray.cluster_resources()
        if self.gpus_per_worker:
            return max(1, int(resources.get("GPU", 0) / self.gpus_per_worker))
        return max(1, int(resources.get("CPU", 0)))

    def __call__(
        self,
        article_batches: Iterable[list[Article]],
        embedder: Embedder,
        settings: PassageSettings,
        on_read: Callable[[list[Article]], None],
    ) -> Iterator[Block]:
        import ray

        def read() -> Iterator[Article]:
            for batch in article_batches:
                on_read(batch)
                yield from batch

        blocks = embedded_blocks(
            read(), embedder.name, settings, self.pool_size(), self.gpus_per_worker, ordered=True
        )
        try:
            yield from blocks
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"the Ray cluster failed while embedding: {first}") from exc


@contextlib.contextmanager
def cluster_embedding(
    address: str | None, workers: int | None = None, gpus_per_worker: float = 0.0
) -> Iterator[ClusterEmbedding | None]:
    """Connected to the cluster at ``address`` for the block, its embedding step;
    ``None`` (embed here) without an address."""
    if address is None:
        yield None
        return
    with connect(address):
        yield ClusterEmbedding(workers, gpus_per_worker)
