"""Spelling correction from the index's own vocabulary ("did you mean").

A misspelt name (``Hegset``) matches nothing lexically and means nothing to the
embedder, so a keyword query with a word the archive never uses is corrected to the
nearest indexed term: by edit distance, then by how many articles use it. The
correction works on index terms (stems) and is shown as the word as it appears in
an article, so the reader sees ``Hegseth``, not an internal stem.

A word the archive does not use is as often a correct word of another language
(``weather`` over a German archive) as a typo, and its nearest archive term
(``Wetter``) then changes what the query asks. So a correction must fit the rest
of the query (the collation check of "did you mean" in larger engines): some article
has to use it together with another word of the query the archive knows.
``Hegset Brüssel`` becomes ``Hegseth Brüssel`` because an article names both; an
English phrase stays as typed when no article names the German look-alikes of its
words next to each other.

A word the packaged multilingual model's vocabulary holds whole (one
SentencePiece piece, such as ``weather`` or ``Portugal``) is a real word of some
language and is never corrected, whatever the archive holds: 130 of the 172 words
of the English keyword queries (dev and held-out) are such pieces, and of the 84
misspelt words in the misspelt query sets one is (a correctly spelt word of another
language). A typo breaks a word into several pieces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from whoosh import query as wq

from search.lexical.analysis import ANALYSED_LANGUAGES, TOKEN_PATTERN, analyze, fold
from search.lexical.index import LexicalIndex
from search.lexical.parse import FIELDS_OF_LANGUAGE
from search.lexical.schema import in_any_field
from search.semantic.embedders import packaged_tokenizer

_WORD = re.compile(TOKEN_PATTERN)
# Short words tolerate one edit, longer ones two; below this length a word is too
# short to correct without guessing.
MIN_CORRECTABLE = 4
ONE_EDIT_MAX_LEN = 5
MAX_CANDIDATES = 8
_WORD_START = "\u2581"  # SentencePiece's mark on the first piece of a word


@dataclass(frozen=True)
class Correction:
    """The corrected query text and which words were replaced by what."""

    text: str
    replacements: dict[str, str]


def _pieces(word: str) -> list[str]:
    """The packaged model's pieces of ``word``, without sentence marks."""
    return packaged_tokenizer().encode([word], out_type=str, add_bos=False, add_eos=False)[0]


def is_vocabulary_word(word: str) -> bool:
    """Whether the multilingual vocabulary holds ``word`` (as typed, lower or capitalised)
    as one piece: a word-start piece, or the bare word-start mark and then the word."""
    return any(
        _pieces(form) in ([_WORD_START + form], [_WORD_START, form])
        for form in dict.fromkeys((word, word.lower(), word.capitalize()))
    )


def edit_distance(a: str, b: str) -> int:
    """Edit distance counting insertions, deletions, substitutions and swaps of two
    neighbouring letters as one edit each (optimal string alignment): the four
    typing slips, so one slip is always distance 1."""
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, previous = previous, current
    return previous[-1]


def _fits_with(others: list[str], lexical: LexicalIndex) -> Callable[[str], bool]:
    """Whether a candidate term shares an article with one of ``others`` (true if none).

    One, not all: an English query over a German archive often holds a word that
    matches by accident (``fine`` stems to ``fin``, which six 10kGNAD articles use),
    and a typo in a name (``Ziepunkt price-fixing fine``) must still be corrected.
    """
    if not others:
        return lambda _term: True
    context = wq.Or([in_any_field(term) for term in others])
    return lambda term: bool(lexical.matching_ids(wq.And([in_any_field(term), context])))


def _best_surface(
    word: str, stems: dict[str, str], lexical: LexicalIndex, fits: Callable[[str], bool]
) -> str | None:
    """The indexed word closest to what was typed.

    Candidates come from the typed word and from its stem in each analysed language,
    among that language's terms (a typo can change how a word stems: ``Hegset``
    stems to ``hegs``, ``Hegseth`` stays whole). They are judged by how far their
    spelling in the archive is from the typed word, then by use.
    """
    typed = fold(word)
    max_edits = 1 if len(typed) <= ONE_EDIT_MAX_LEN else 2
    candidates = dict(lexical.terms_near(typed, max_edits))
    for language, stem in stems.items():
        candidates.update(lexical.terms_near(stem, max_edits, FIELDS_OF_LANGUAGE[language]))
    best: tuple[int, int, str] | None = None
    for candidate, frequency in sorted(candidates.items(), key=lambda c: -c[1])[:MAX_CANDIDATES]:
        surface = lexical.surface_form(candidate)
        if surface is None or not fits(candidate):
            continue
        # An inflected form (``Eröffnung`` for the stored ``eröffnen``)
        # is judged by its stem, where the typo is all that differs; a stem is
        # compared only with terms of its own language.
        distance = min(
            edit_distance(typed, fold(surface)),
            *(
                edit_distance(stem, candidate)
                for language, stem in stems.items()
                if lexical.doc_frequency(candidate, FIELDS_OF_LANGUAGE[language])
            ),
        )
        rank = (distance, -frequency, surface)
        if best is None or rank < best:
            best = rank
    return best[2] if best is not None and best[0] <= max_edits else None


def correct_query(text: str, lexical: LexicalIndex) -> Correction | None:
    """Correct each word none of whose index terms an article uses; None if nothing changes.

    A word is looked up in each analysed language's fields by its term in that
    language: the archive may hold either. The query plan asks for keyword queries
    only: prose is often in another language than the archive, where an unknown
    word is a foreign word, not a typo.
    """
    words = _WORD.findall(text)
    analysed = {
        word: {language: analyze(word, language=language) for language in ANALYSED_LANGUAGES}
        for word in dict.fromkeys(words)
    }
    known = {
        word: list(
            dict.fromkeys(
                term
                for language, terms in per_language.items()
                for term in terms
                if lexical.doc_frequency(term, FIELDS_OF_LANGUAGE[language])
            )
        )
        for word, per_language in analysed.items()
    }
    replacements: dict[str, str] = {}
    for word, per_language in analysed.items():
        if known[word] or any(len(terms) != 1 for terms in per_language.values()):
            continue
        if is_vocabulary_word(word):
            continue
        stems = {language: terms[0] for language, terms in per_language.items()}
        if min(len(stem) for stem in stems.values()) < MIN_CORRECTABLE:
            continue
        others = [term for other, found in known.items() if other != word for term in found]
        surface = _best_surface(word, stems, lexical, _fits_with(others, lexical))
        if surface:
            replacements[word] = surface
    if not replacements:
        return None
    corrected = _WORD.sub(lambda m: replacements.get(m.group(0), m.group(0)), text)
    return Correction(text=corrected, replacements=replacements)
