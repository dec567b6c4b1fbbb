"""Grounding query words in the archive before the semantic search.

A sentence encoder knows little about a name it never saw in training: USE embeds
``Hegseth Brüssel`` almost exactly like ``Brüssel`` (cosine 0.85), and its vector
for ``Hegseth`` is near-orthogonal to passages that name him. The archive itself
knows what such a word means: the passages that use it. So each rare query term
gets a context vector, the centroid of passages that contain it, and the query
vector moves towards those centroids (pseudo-relevance feedback per term, in
embedding space). Common words are left to the model, which knows them; a term the
archive never uses (an English word over a German archive) adds nothing, so
cross-lingual queries keep the model's own vector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from search.lexical.index import LexicalIndex
from search.lexical.parse import ParsedQuery
from search.semantic.sharded import ShardedVectors


@dataclass(frozen=True)
class ExpansionSettings:
    """How strongly and from how much evidence the query vector is grounded."""

    weight: float = 0.5
    # Keyword queries lean harder on the archive: a few words, often names, are all
    # the model gets; prose already carries its own meaning.
    keyword_weight: float = 1.0
    max_doc_share: float = 0.02
    min_doc_limit: int = 20
    docs_per_term: int = 16
    max_terms: int = 6


def ground_query_vector(
    vector: np.ndarray,
    parsed: ParsedQuery,
    keywords: bool,
    lexical: LexicalIndex,
    vectors: ShardedVectors,
    settings: ExpansionSettings,
) -> np.ndarray:
    """Return the query vector moved towards the archive contexts of its rare terms."""
    weight = settings.keyword_weight if keywords else settings.weight
    if weight <= 0:
        return vector
    # "Rare" is a share of the archive, but never so few articles that a small
    # archive could ground nothing.
    max_docs = max(settings.max_doc_share * lexical.count(), settings.min_doc_limit)
    contexts: list[np.ndarray] = []
    rare = lexical.rare_terms(parsed, max_docs, settings.docs_per_term)
    # Rare terms of one query share articles: fetch, split and fold each one once.
    seen: dict[str, tuple[list[str], np.ndarray]] = {}
    for term, article_ids in rare[: settings.max_terms]:
        rows = []
        # Stems begin a word, so a word-start match in the folded text finds the
        # passages that use the term at a fraction of full analysis' cost.
        uses_term = re.compile(rf"\b{re.escape(term)}")
        for article_id in article_ids:
            if article_id not in vectors:
                continue
            if article_id not in seen:
                matrix = vectors.vectors_of(article_id)
                seen[article_id] = (lexical.folded_passages(article_id)[: len(matrix)], matrix)
            folded, matrix = seen[article_id]
            rows.extend(matrix[i] for i, text in enumerate(folded) if uses_term.search(text))
        if rows:
            centroid = np.mean(rows, axis=0)
            contexts.append(centroid / max(float(np.linalg.norm(centroid)), 1e-12))
    if not contexts:
        return vector
    grounded = vector + weight * np.mean(contexts, axis=0)
    return (grounded / max(float(np.linalg.norm(grounded)), 1e-12)).astype(np.float32)
