"""The fast lexical paths give what Whoosh's own give, and pages rank only what they need.

numpy BM25F scores, nearby terms for spelling, the highlighter's token stream; on
an archive of a few hundred short articles, so that common words match more than
the candidate depth and a write leaves two segments with deletions.
"""

from __future__ import annotations

import json
import random

import pytest
from whoosh import query as wq
from whoosh.matching import IntersectionMatcher, Matcher, UnionMatcher, WrappingMatcher

from search.engine import CANDIDATE_DEPTH, Engine
from search.ingest.article import Article
from search.lexical.bm25 import PostingCache, _Archive, _Leaf, _matcher, score_query
from search.lexical.nearby import Lexicon
from search.lexical.parse import SEARCH_FIELDS
from search.retrieval.filters import Filters
from search.retrieval.paging import Cursor, claimed_position, encode_cursor
from search.semantic.embedders import Embedder

WORDS = [
    "Derby",
    "Börse",
    "Regierung",
    "Wahl",
    "Hitzewelle",
    "Pentagon",
    "Gipfel",
    "Zinsen",
    "Streik",
    "Bahn",
    "Klima",
    "Fußball",
    "Trainer",
    "Minister",
    "Gericht",
    "Urteil",
    "Polizei",
    "Unfall",
    "Schule",
    "Forschung",
]
QUERIES = [
    "Derby",
    "Börse Zinsen",
    "Regierung Wahl Minister",
    "Streik-Bahn Klima",
    "Trainer Fußball Derby Gericht",
    "Die Regierung plant nach der Wahl neue Regeln für Schule, Forschung und Bahn",
    "Polizei Unfall Gericht Urteil Hitzewelle Pentagon Gipfel",
    "title:Derby OR body:Börse",
    "Wortgibtesnicht",
]


def _article(number: int, rng: random.Random) -> dict[str, str]:
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf-like: few common words
    body = " ".join(rng.choices(WORDS, weights, k=rng.randint(5, 40)))
    title = " ".join(rng.choices(WORDS, weights, k=3))
    return {"id": f"a{number:04d}", "title": title, "text": f"{body}.", "date": "2025-01"}


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    rng = random.Random(6)
    source = tmp_path_factory.mktemp("deep") / "articles.jsonl"
    rows = [_article(n, rng) for n in range(300)]
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    engine, _ = Engine.rebuild([source], source.parent / "index", embedder=embedder)
    # A second segment, and deletions in the first.
    extra = [_article(n, rng) for n in range(300, 340)]
    engine.write(
        [Article(id=r["id"], title=r["title"], body=r["text"], date=r["date"]) for r in extra],
        deletes=[f"a{n:04d}" for n in range(0, 300, 7)],
    )
    return engine


def test_numpy_scores_are_whooshs(deep: Engine) -> None:
    lexical = deep._current().lexical
    searcher = lexical._current()
    assert len(searcher.leaf_searchers()) == 2 and searcher.reader().has_deletions()
    cache = PostingCache(max_postings=500)  # small: evictions on the way
    for text in QUERIES:
        parsed = lexical.parser.parse(text)
        for q in (parsed.strict, parsed.loose):
            scored = score_query(searcher, q, cache)
            assert scored is not None, text
            matched, scores = scored
            expected = dict((d, s) for s, d in searcher.search(q, limit=None).top_n)
            assert set(matched.nonzero()[0].tolist()) == set(expected), text
            # A many-word OR may add its parts in another order than Whoosh's small-
            # index path: equal to the last bit or two.
            for doc, score in expected.items():
                assert scores[doc] == pytest.approx(score, rel=1e-12), text


def _shape(m: Matcher) -> object:
    """A matcher tree as nested tuples: node types, leaves, boosts, in tree order."""
    if isinstance(m, _Leaf):
        return ("leaf", m.field, m.text, id(m.scorer))
    if isinstance(m, WrappingMatcher):
        return ("boost", m.boost, _shape(m.child))
    if isinstance(m, (UnionMatcher, IntersectionMatcher)):
        return (type(m).__name__, _shape(m.a), _shape(m.b))
    return type(m).__name__


def test_matcher_trees_are_whooshs(deep: Engine) -> None:
    """Terms, ANDs and ORs are built without Whoosh's query methods, into the very
    trees Whoosh builds for an index with the archive's statistics (so scores add up
    in the same order, to the bit)."""
    lexical = deep._current().lexical
    searcher = lexical._current()
    context = searcher.context(needs_current=True)
    archive = _Archive(searcher, PostingCache(), None, tolerant=False)
    extra = ["(Derby OR Börse) AND (Zinsen OR title:Streik^2)", "Derby Wortgibtesnicht Börse"]
    for text in QUERIES + extra:
        parsed = lexical.parser.parse(text)
        for q in (parsed.strict, parsed.loose):
            ours = _shape(_matcher(q, archive, context))
            assert ours == _shape(q.matcher(archive, context)), text


def test_queries_numpy_does_not_take_fall_back_to_whoosh(deep: Engine) -> None:
    lexical = deep._current().lexical
    searcher = lexical._current()
    phrase = lexical.parser.parse('"Derby Börse" OR Zinsen')
    assert score_query(searcher, phrase.loose, PostingCache()) is None
    hits = lexical.search(phrase, None)
    assert [a for a, _ in hits.ranked] == [
        searcher.stored_fields(d)["id"] for _, d in searcher.search(phrase.loose, limit=None).top_n
    ]
    assert hits.total == len(hits.ranked) and all(hits.matches(a) for a, _ in hits.ranked)


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_pages_rank_to_their_depth_yet_equal_the_complete_ranking(deep: Engine, mode: str) -> None:
    query = "Regierung Wahl Minister Derby"
    complete = deep.rank(query, mode, complete=True)  # type: ignore[arg-type]
    everything = [item.article_id for item in complete.items]
    assert complete.total == len(everything) > CANDIDATE_DEPTH + 50
    for offset in (0, 40, CANDIDATE_DEPTH + 20):
        page = deep.search(query, mode=mode, limit=30, offset=offset)  # type: ignore[arg-type]
        assert [h.id for h in page.hits] == everything[offset : offset + 30]
        assert page.total == complete.total
    # Cursors walk past the ranked depth to the very last match.
    walked: list[str] = []
    cursor = None
    while True:
        page = deep.search(query, mode=mode, limit=45, cursor=cursor)  # type: ignore[arg-type]
        walked += [h.id for h in page.hits]
        if page.next is None:
            break
        cursor = page.next
    assert walked == everything


def test_facets_and_filters_count_every_match(deep: Engine) -> None:
    query = "Börse Zinsen Gericht"
    filters = Filters.parse(date_from="2025-01")
    complete = deep.rank(query, "hybrid", filters=filters, complete=True)
    page = deep.search(query, mode="hybrid", filters=filters, facets=True)
    assert page.total == complete.total
    assert page.facets is not None
    assert sum(c.count for c in page.facets.month) == len({i.article_id for i in complete.items})
    lexical = deep._current().lexical
    parsed = lexical.parser.parse(query)
    narrowed = lexical.search(parsed, None, lexical.allowed([wq.Term("id", "a0001")]))
    assert narrowed.total <= 1


def _typos(words: list[str], rng: random.Random) -> list[str]:
    typed = []
    for word in words:
        letters = list(word)
        for _ in range(rng.randint(0, 3)):
            at = rng.randrange(len(letters))
            edit = rng.randrange(4)
            if edit == 0:
                letters[at] = rng.choice("aeinorstuäöß")
            elif edit == 1:
                letters.insert(at, rng.choice("aeinorst"))
            elif edit == 2 and len(letters) > 2:
                del letters[at]
            elif edit == 3 and at + 1 < len(letters):
                letters[at], letters[at + 1] = letters[at + 1], letters[at]
        typed.append("".join(letters))
    return typed


@pytest.mark.parametrize("segments", [1, 2])
def test_terms_near_finds_what_whoosh_finds(deep: Engine, engine: Engine, segments: int) -> None:
    # One segment: Whoosh's Levenshtein automaton; several: its Damerau-Levenshtein scan.
    lexical = (deep if segments == 2 else engine)._current().lexical
    # One shard's own reader, or the archive's reader over every shard's segments.
    reader = lexical._current().reader() if segments == 2 else lexical._indexes[0].reader()
    assert (len(reader.leaf_readers()) > 1) == (segments == 2)
    lexicon = Lexicon(reader, SEARCH_FIELDS)
    vocabulary = [reader.schema["body"].from_bytes(t) for t in reader.lexicon("body")]
    for word in _typos(vocabulary, random.Random(segments)):
        edits = 1 if len(word) <= 5 else 2
        for field in SEARCH_FIELDS:
            expected = set(reader.terms_within(field, word, edits, prefix=1))
            assert set(lexicon.near(field, word, edits)) == expected, (field, word)


def test_a_cursor_claims_its_position_before_it_is_checked() -> None:
    token = encode_cursor(Cursor(240, "a0007"), "f1")
    assert claimed_position(token) == 240
    for junk in ("", "!!!", "e30", "x" * 2000, encode_cursor(Cursor(1, "a"), "f")[:-3]):
        assert claimed_position(junk) >= 0
