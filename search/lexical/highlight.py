"""Snippets: the window of a text that shows why it matched, matched words marked.

A reader judges a hit by its snippet, so the window is chosen to hold the most
distinct query words, is cut at whole words with "…" where text was left out, and
is never longer than ``SNIPPET_CHARS`` (the CLI and the page show it whole). A word
is marked when one of the terms the analyzer makes of it is a query term, exactly
as it was indexed (stems, folded umlauts, hyphenated parts).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from search.lexical.analysis import HYPHENS, TOKEN_PATTERN, fold

SNIPPET_CHARS = 280
# How much text before the first matched word the window shows, for context.
LEAD_IN_CHARS = 60
# Letters of a term the pre-test for a passage looks for (``may_mention``).
PREFIX_LETTERS = 4
_WORD = re.compile(TOKEN_PATTERN)
_SPACE = re.compile(r"\s")
_WORD_CHARS = re.compile(r"\w+")

# ``(word, language) -> the word's index terms``; the lexical index caches it.
TermsOfWord = Callable[[str, str], tuple[str, ...]]


@dataclass(frozen=True)
class Span:
    """A matched word: where it stands and the query term it matched."""

    start: int
    end: int
    term: str


def matched_spans(
    text: str, terms: frozenset[str], language: str, terms_of: TermsOfWord
) -> list[Span]:
    """Every word of ``text`` that holds a query term, in text order."""
    if not terms:
        return []
    pattern = may_mention(terms)
    words = (
        _mentioning_words(text, pattern)
        if pattern is not None and _in_words(terms)
        else (m for m in _WORD.finditer(text) if pattern is None or pattern.search(m.group()))
    )
    spans = []
    for match in words:
        for term in terms_of(match.group(), language):
            if term in terms:
                spans.append(Span(match.start(), match.end(), term))
                break
    return spans


def _mentioning_words(text: str, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
    """The words of ``text`` that ``pattern`` matches in, found from its matches in the
    whole text rather than by trying it on every word (most words hold no term).

    The same words as trying each: a pattern of word characters only (``_in_words``)
    matches within one run of them, so within one word, and ``\\b`` sees the same
    boundary at a run's start either way.
    """
    after = 0  # the end of the last word given: its other matches add nothing
    for found in pattern.finditer(text):
        at = found.start()
        if at < after:
            continue
        start = at
        while start > 0:  # back to the word's start, as the tokenizer reads it
            if _is_word_char(text[start - 1]):
                start -= 1
            elif start > 1 and text[start - 1] in HYPHENS and _is_word_char(text[start - 2]):
                start -= 2
            else:
                break
        word = _WORD.match(text, start)
        if word is not None:
            after = word.end()
            yield word


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # what ``\\w`` matches


@lru_cache(maxsize=256)
def _in_words(terms: frozenset[str]) -> bool:
    """Whether every term is word characters only (then so is ``may_mention``'s pattern)."""
    return all(_WORD_CHARS.fullmatch(term) for term in terms)


@lru_cache(maxsize=256)  # one query's terms, asked for each of its hits' passages
def may_mention(terms: frozenset[str]) -> re.Pattern[str] | None:
    """A pattern that a text matches wherever one of ``terms`` could be marked in it:
    a cheap test before analysing every word.

    Terms are folded (lowercase, no diacritics: ``analysis.fold``), so each letter
    matches its accented forms in any case. A term is its word's stem (Porter may
    end it differently: ``ministri``) or one part of a compound, so its first
    letters are looked for anywhere in a word, and a short term only at its start.
    The alternatives are tried only where a term's first letter stands (a lookahead
    the regex engine scans for quickly), which matches the same and takes a third of
    the time of trying every alternative at every character. Only a term's first
    ``PREFIX_LETTERS`` are looked for: every word found is analysed anyway, while
    compiling a class of accented forms per letter is most of a new query's snippet
    time.
    """
    if not terms:
        return None
    parts = sorted(
        {
            rf"\b{_unfolded(t)}" if len(t) < 4 else _unfolded(t[: min(PREFIX_LETTERS, len(t) - 1)])
            for t in terms
        },
        key=len,
        reverse=True,
    )
    firsts = "".join(sorted({form for t in terms for form in t[0] + _FORMS.get(t[0], "")}))
    return re.compile(f"(?=[{re.escape(firsts)}])(?:{'|'.join(parts)})", re.IGNORECASE)


def _unfolded(term: str) -> str:
    """A pattern for the spellings that fold to ``term`` (``strasse``: ``Straße``)."""
    return "".join(
        f"[{re.escape(ch + _FORMS[ch])}]" if ch in _FORMS else re.escape(ch) for ch in term
    )


def _accented_forms() -> dict[str, str]:
    """Each ASCII letter's accented lowercase forms (with ``ß`` for ``s``: it folds
    to ``ss``, so a stem ending in ``s`` may end in ``ß``)."""
    forms: dict[str, set[str]] = {"s": {"ß"}}
    for code in range(0xC0, 0x250):
        ch = chr(code).lower()
        folded = fold(ch)
        if len(ch) == 1 and len(folded) == 1 and folded != ch and folded.isascii():
            forms.setdefault(folded, set()).add(ch)
    return {letter: "".join(sorted(chars)) for letter, chars in forms.items()}


_FORMS = _accented_forms()


def snippet(
    text: str,
    terms: frozenset[str],
    language: str,
    terms_of: TermsOfWord,
    limit: int = SNIPPET_CHARS,
    spans: list[Span] | None = None,
) -> str:
    """HTML-escaped ``text``, cut to the window with the most distinct matched words
    (``spans``: its ``matched_spans``, where the caller has them already)."""
    if spans is None:
        spans = matched_spans(text, terms, language, terms_of)
    start, end = _window(text, spans, limit)
    shown = [s for s in spans if s.start >= start and s.end <= end]
    out = ["… " if start > 0 else ""]
    at = start
    for span in shown:
        word = html.escape(text[span.start : span.end])
        out += [html.escape(text[at : span.start]), f"<mark>{word}</mark>"]
        at = span.end
    out += [html.escape(text[at:end]), " …" if end < len(text) else ""]
    return " ".join("".join(out).split())


def _window(text: str, spans: list[Span], limit: int) -> tuple[int, int]:
    """The ``limit``-character stretch holding the most distinct terms (then the most
    matches, then the earliest), widened or narrowed to whole words."""
    if len(text) <= limit:
        return 0, len(text)
    start = 0
    if spans:
        best: tuple[int, int, int] | None = None
        for i, first in enumerate(spans):
            inside = [s for s in spans[i:] if s.end <= first.start + limit - LEAD_IN_CHARS]
            rank = (len({s.term for s in inside}), len(inside), -first.start)
            if best is None or rank > best:
                best = rank
                start = max(first.start - LEAD_IN_CHARS, 0)
    start = _word_start(text, start)
    end = _word_end(text, min(start + limit, len(text)), start)
    return start, end


def _word_start(text: str, at: int) -> int:
    """``at`` moved forward to the start of a word (unless it is at the text's start)."""
    if at == 0 or _SPACE.match(text[at - 1]):
        return at
    space = _SPACE.search(text, at)
    return space.end() if space else at


def _word_end(text: str, at: int, start: int) -> int:
    """``at`` moved back to the end of a word (never before ``start``)."""
    if at >= len(text) or _SPACE.match(text[at]):
        return at
    cut = max(text.rfind(" ", start, at), text.rfind("\n", start, at))
    return cut if cut > start else at
