"""Spelling correction from the index's own vocabulary ("did you mean").

A misspelt name (``Hegset``) matches nothing lexically and means nothing to the
embedder, so a keyword query with a word the archive never uses is corrected to the
nearest indexed term: by edit distance, then by how many articles use it. The
correction works on index terms (stems) and is shown as the word as it appears in
an article, so the reader sees ``Hegseth``, not an internal stem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.analysis import TOKEN_PATTERN, analyze, fold
from search.lexical import LexicalIndex

_WORD = re.compile(TOKEN_PATTERN)
# Short words tolerate one edit, longer ones two; below this length a word is too
# short to correct without guessing.
MIN_CORRECTABLE = 4
ONE_EDIT_MAX_LEN = 5
# Keyword queries only: a longer text is prose, often in another language than the
# archive, where an unknown word is a foreign word, not a typo.
MAX_WORDS = 4
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class Correction:
    """The corrected query text and which words were replaced by what."""

    text: str
    replacements: dict[str, str]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def _best_surface(word: str, term: str, lexical: LexicalIndex) -> str | None:
    """The indexed word closest to what was typed.

    Candidates come from both the typed word and its stem (a typo can change how a
    word stems: ``Hegset`` stems to ``hegs``, ``Hegseth`` stays whole), and are judged
    by how far their spelling in the archive is from the typed word, then by use.
    """
    typed = fold(word)
    max_edits = 1 if len(typed) <= ONE_EDIT_MAX_LEN else 2
    candidates = dict(lexical.terms_near(term, max_edits))
    candidates.update(lexical.terms_near(typed, max_edits))
    best: tuple[int, int, str] | None = None
    for candidate, frequency in sorted(candidates.items(), key=lambda c: -c[1])[:MAX_CANDIDATES]:
        surface = lexical.surface_form(candidate)
        if surface is None:
            continue
        rank = (edit_distance(typed, fold(surface)), -frequency, surface)
        if best is None or rank < best:
            best = rank
    return best[2] if best is not None and best[0] <= max_edits else None


def correct_query(text: str, lexical: LexicalIndex) -> Correction | None:
    """Correct each word whose only index term no article uses; None if nothing changes."""
    words = _WORD.findall(text)
    if len(words) > MAX_WORDS:
        return None
    replacements: dict[str, str] = {}
    for word in dict.fromkeys(words):
        terms = analyze(word)
        if len(terms) != 1 or len(terms[0]) < MIN_CORRECTABLE:
            continue
        term = terms[0]
        if lexical.doc_frequency(term) > 0:
            continue
        surface = _best_surface(word, term, lexical)
        if surface:
            replacements[word] = surface
    if not replacements:
        return None
    corrected = _WORD.sub(lambda m: replacements.get(m.group(0), m.group(0)), text)
    return Correction(text=corrected, replacements=replacements)
