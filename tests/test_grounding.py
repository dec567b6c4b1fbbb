"""Grounding: the query vector moves towards the passages that use its rare words.

Real Whoosh and FAISS indexes with hand-made passage vectors (axes of a small
space), so where the grounded vector must land is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from search.ingest.article import Article
from search.ingest.passages import PassageSettings, split_passages
from search.lexical.index import LexicalIndex
from search.semantic.grounding import ExpansionSettings, ground_query_vector
from search.semantic.vectors import VectorIndex

DIM = 6
PASSAGES = PassageSettings(max_chars=80)


def axis(i: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[i] = 1.0
    return vector


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


# Each article's passages and the axis each passage's vector lies on.
ARTICLES = [
    (Article("zwerg", "Im Tiergarten kam ein Zwergflusspferd zur Welt."), [1]),
    (
        Article(
            "regatta",
            "Die Segelregatta am Attersee endete mit einer Überraschung vor dem Ziel. "
            "Am Abend regnete es über der ganzen Stadt und den Hügeln ringsum.",
        ),
        [2, 3],
    ),
    (Article("mond-1", "Eine Mondfinsternis war über dem Alpenvorland zu sehen."), [4]),
    (Article("mond-2", "Die Mondfinsternis lockte viele Leute auf die Berge."), [4]),
    (Article("mond-3", "Fotos der Mondfinsternis gingen um die Welt."), [5]),
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[LexicalIndex, VectorIndex]:
    lexical = LexicalIndex.create(tmp_path_factory.mktemp("grounding") / "lexical")
    vectors = VectorIndex(DIM)
    with lexical.writer(fresh=True, passages=PASSAGES) as writer:
        for article, axes in ARTICLES:
            assert len(split_passages(article, PASSAGES)) == len(axes)
            writer.upsert(article)
            vectors.add(article.id, np.stack([axis(i) for i in axes]))
    return lexical, vectors


def ground(
    archive: tuple[LexicalIndex, VectorIndex],
    text: str,
    settings: ExpansionSettings,
    keywords: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    lexical, vectors = archive
    query = axis(0)
    return query, ground_query_vector(
        query, lexical.parser.parse(text), keywords, lexical, vectors, settings
    )


# Three articles is "common" in this archive of five.
RARE_IS_AT_MOST_TWO = ExpansionSettings(max_doc_share=0.0, min_doc_limit=2)


def test_a_rare_word_moves_the_query_towards_its_passages(
    archive: tuple[LexicalIndex, VectorIndex],
) -> None:
    query, grounded = ground(archive, "Zwergflusspferd", RARE_IS_AT_MOST_TWO)
    # keyword weight 1.0: halfway between the query and the passage
    np.testing.assert_allclose(grounded, unit(query + axis(1)), atol=1e-6)


def test_only_the_passages_that_use_the_word_count(
    archive: tuple[LexicalIndex, VectorIndex],
) -> None:
    # The regatta article's second passage (axis 3) is about the weather.
    query, grounded = ground(archive, "Segelregatta", RARE_IS_AT_MOST_TWO)
    np.testing.assert_allclose(grounded, unit(query + axis(2)), atol=1e-6)


def test_two_rare_words_pull_towards_the_mean_of_their_contexts(
    archive: tuple[LexicalIndex, VectorIndex],
) -> None:
    query, grounded = ground(archive, "Zwergflusspferd Segelregatta", RARE_IS_AT_MOST_TWO)
    np.testing.assert_allclose(grounded, unit(query + (axis(1) + axis(2)) / 2), atol=1e-6)


def test_a_word_in_too_many_articles_is_left_to_the_model(
    archive: tuple[LexicalIndex, VectorIndex],
) -> None:
    query, grounded = ground(archive, "Mondfinsternis", RARE_IS_AT_MOST_TWO)
    np.testing.assert_array_equal(grounded, query)
    # With a higher limit the same word is rare, and its three passages count alike.
    _, grounded = ground(archive, "Mondfinsternis", ExpansionSettings(max_doc_share=0.0))
    context = unit((2 * axis(4) + axis(5)) / 3)
    np.testing.assert_allclose(grounded, unit(query + context), atol=1e-6)


def test_a_word_the_archive_never_uses_adds_nothing(
    archive: tuple[LexicalIndex, VectorIndex],
) -> None:
    query, grounded = ground(archive, "Wüstenspringmaus", ExpansionSettings())
    np.testing.assert_array_equal(grounded, query)


def test_prose_and_keywords_have_their_own_weights(
    archive: tuple[LexicalIndex, VectorIndex],
) -> None:
    settings = ExpansionSettings(weight=0.0, keyword_weight=0.5, max_doc_share=0.0)
    query, grounded = ground(archive, "Zwergflusspferd Tiergarten", settings, keywords=False)
    np.testing.assert_array_equal(grounded, query)
    query, grounded = ground(archive, "Zwergflusspferd Tiergarten", settings, keywords=True)
    assert grounded == pytest.approx(unit(query + 0.5 * axis(1)), abs=1e-6)
    assert np.linalg.norm(grounded) == pytest.approx(1.0)


def test_an_article_without_vectors_is_skipped(
    archive: tuple[LexicalIndex, VectorIndex],
) -> None:
    lexical, _ = archive
    query = axis(0)
    grounded = ground_query_vector(
        query,
        lexical.parser.parse("Zwergflusspferd"),
        True,
        lexical,
        VectorIndex(DIM),
        ExpansionSettings(),
    )
    np.testing.assert_array_equal(grounded, query)
