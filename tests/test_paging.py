"""Sorting, the complete ranking behind every page, cursors and export."""

from __future__ import annotations

import pytest

from search.engine import Engine
from search.errors import QueryError
from search.ingest.article import Article
from search.retrieval.filters import Filters
from search.retrieval.paging import Cursor, decode_cursor, encode_cursor, resume_position

EVERYTHING = "Hegseth OR Brüssel OR Derby OR Börse OR Hitzewelle"


def _dates(engine: Engine, sort: str, mode: str = "lexical") -> list[str | None]:
    results = engine.search(EVERYTHING, mode=mode, sort=sort, limit=10)  # type: ignore[arg-type]
    return [h.date for h in results.hits]


def test_date_sort_orders_every_match_by_its_date(engine: Engine) -> None:
    newest = _dates(engine, "date")
    assert newest == ["2025-04", "2025-03-20", "2025-02", "2025-01-25", "2025", "2024-07-15"]
    assert _dates(engine, "date_asc") == list(reversed(newest))
    with pytest.raises(QueryError, match="sort must be one of"):
        engine.search("x", sort="random")  # type: ignore[arg-type]


def test_hybrid_ranks_lexical_matches_beyond_the_fused_candidates(engine: Engine) -> None:
    lexical = [i.article_id for i in engine.rank(EVERYTHING, "lexical", depth=100).items]
    ranking = engine.rank(EVERYTHING, "hybrid", depth=2, complete=True)
    ids = [item.article_id for item in ranking.items]
    assert set(lexical) <= set(ids)
    tail = [item for item in ranking.items if item.scores.fused is None]
    assert tail and [i.article_id for i in tail] == [a for a in lexical if a in ids[-len(tail) :]]
    assert ranking.items[-len(tail) - 1].scores.fused is not None
    scores = [item.score for item in ranking.items]
    assert scores == sorted(scores, reverse=True)
    assert len(engine.rank(EVERYTHING, "hybrid", depth=2).items) == 2


def test_cursor_tokens_round_trip_and_refuse_edits() -> None:
    token = encode_cursor(Cursor(20, "gnad-0042"), "f1")
    assert decode_cursor(token, "f1") == Cursor(20, "gnad-0042")
    with pytest.raises(QueryError, match="another query"):
        decode_cursor(token, "f2")
    forged = encode_cursor(Cursor(20, "gnad-0042"), "f1").replace("MjA", "OTk")
    with pytest.raises(QueryError, match="not a cursor"):
        decode_cursor(forged if forged != token else token[:-2], "f1")
    for junk in ("", "!!!", "e30", "x" * 2000):
        with pytest.raises(QueryError, match="cursor"):
            decode_cursor(junk, "f1")


def test_a_cursor_finds_its_article_after_positions_moved() -> None:
    ids = ["a", "b", "c", "d"]
    assert resume_position(Cursor(2, "b"), ids) == 2
    assert resume_position(Cursor(2, "b"), ["new", *ids]) == 3
    assert resume_position(Cursor(2, "gone"), ids) == 2
    assert resume_position(Cursor(9, "gone"), ids) == 4


def test_a_cursor_continues_after_a_write_in_between(writable_engine: Engine) -> None:
    first = writable_engine.search(EVERYTHING, mode="lexical", sort="date", limit=2)
    assert [h.id for h in first.hits] == ["fussball", "eu-gipfel"] and first.next
    writable_engine.write([Article(id="neu", title="Derby", body="Ein Derby.", date="2026-01")])
    second = writable_engine.search(
        EVERYTHING, mode="lexical", sort="date", limit=2, cursor=first.next
    )
    assert [h.id for h in second.hits] == ["000_494cd484c81fa86c", "hegseth-pentagon"]
    assert second.total == 7


def test_matches_yields_every_match_with_its_article(engine: Engine) -> None:
    filters = Filters.parse(date_from="2025")
    rows = list(engine.matches(EVERYTHING, mode="hybrid", filters=filters, sort="date"))
    assert [article.date for article, _ in rows] == [
        "2025-04",
        "2025-03-20",
        "2025-02",
        "2025-01-25",
        "2025",
    ]
    assert all(article.id == item.article_id for article, item in rows)
    # A stray quote is read as words, in export as in search.
    stray = [item.article_id for _article, item in engine.matches('"Derby')]
    assert stray == [item.article_id for _article, item in engine.matches("Derby")]
