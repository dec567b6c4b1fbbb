"""Splitting German closed compounds into the words they are made of.

``Ukrainekrieg`` and ``Krieg in der Ukraine`` should find each other, and the
German stemmer cannot see that ``Ukrainekrieg`` holds ``Krieg``. This is the
approach of Elasticsearch's hyphenation decompounder (hyphenation patterns plus a
word list), made stricter against over-splitting:

- Parts may only begin and end where German hyphenation may break the word
  (``pyphen``'s LibreOffice patterns), so no part starts inside a syllable.
- Every part must be a known word (``wordfreq``'s German list: words used at least
  once per million) after stemming, so linking morphemes (``Staats-``,
  ``Sonnen-``, ``Bundes-``) and inflected heads (``-schließungen``) are matched by
  their stem, and no fragment such as ``rung`` (``Regierung``) counts as a word.
- The parts must cover the whole word; the split with the fewest parts wins, then
  the one with the more frequent parts (never ``Fuß`` + ``Ball`` + ``Verein`` where
  ``Fußball`` + ``Verein`` will do).
- A compound the word list knows is a word of its own and stays whole:
  ``Krankenhaus`` is not about a ``Haus``, ``Wirtschaft`` not about a ``Wirt``.
  What is split are the compounds news coins faster than dictionaries list them.
- Only capitalised words are split (German nouns); parts have at least
  ``MIN_PART_CHARS`` letters and are never stop words, derivational suffixes or
  verb prefixes.

``search.lexical.analysis`` indexes the parts beside the whole word, when an index
is built with compounds on (docs/quality.md has the measurements).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import lru_cache

import pyphen

# A part (and its stem) shorter than this is too often a syllable that happens to
# be a word: ``Elternteil`` holds no ``elt``.
MIN_PART_CHARS = 4
MIN_WORD_CHARS = 2 * MIN_PART_CHARS
SPLIT_CACHE = 200_000
# Derivational suffixes and verb prefixes are syllables that wordfreq also lists as
# words (``-schaft``, ``-heit``, ``ab-``, ``ausge-``): ``Abgerechnet`` is no ``Rechnung``.
_AFFIX_TEXT = """
lich isch schaft heit keit sam haft tum ung lung nis bar los ling chen lein rinn
innen erin schen ismus tier ier ien ion ik
ab an auf aus bei ein mit nach vor zu um ver zer ent emp miss un ge be er
abge ange aufge ausge einge mitge nachge vorge zuge umge
"""
_AFFIXES = frozenset(_AFFIX_TEXT.split())

Stem = Callable[[str], str | None]


class Decompounder:
    """Splits words into parts that are known words, by their stems' frequencies."""

    def __init__(self, stem: Stem, frequencies: Mapping[str, float], hyphenator: pyphen.Pyphen):
        self._stem = stem
        self._hyphenator = hyphenator
        # Stems, not words: a part is matched in whatever form the compound holds it.
        # Their frequencies only break ties between splits of as many parts.
        totals: dict[str, float] = defaultdict(float)
        for word, frequency in frequencies.items():
            term = stem(word)
            if term is not None and word.isalpha():
                totals[term] += frequency
        self._log_frequency = {term: math.log(f) for term, f in totals.items()}
        self._words = frozenset(frequencies)
        self.split = lru_cache(maxsize=SPLIT_CACHE)(self._split)

    def _part(self, chunk: str) -> tuple[str, float] | None:
        """The term and log frequency of one candidate part, or None if it is no word."""
        if len(chunk) < MIN_PART_CHARS or chunk in _AFFIXES:
            return None
        term = self._stem(chunk)
        if term is None or len(term) < MIN_PART_CHARS or term in _AFFIXES:
            return None
        frequency = self._log_frequency.get(term)
        return None if frequency is None else (term, frequency)

    def _split(self, word: str) -> tuple[str, ...]:
        """The terms of ``word``'s parts, or () when it is not a compound."""
        if len(word) < MIN_WORD_CHARS or not word[0].isupper() or not word.isalpha():
            return ()
        if word.isupper():
            return ()  # an acronym
        lowered = word.lower()
        if word.casefold() in self._words:  # the list folds ß to ss, as casefold does
            return ()
        breaks = [0, *self._hyphenator.positions(lowered), len(lowered)]
        # best[i]: the split of lowered[:breaks[i]] with the fewest parts, then the
        # highest summed log frequency, as (parts, -sum, terms).
        best: list[tuple[int, float, tuple[str, ...]] | None] = [None] * len(breaks)
        best[0] = (0, 0.0, ())
        last = len(breaks) - 1
        for end in range(1, len(breaks)):
            for start in range(1 if end == last else 0, end):  # never the whole word
                head = best[start]
                part = self._part(lowered[breaks[start] : breaks[end]])
                if head is None or part is None:
                    continue
                candidate = (head[0] + 1, head[1] - part[1], (*head[2], part[0]))
                current = best[end]
                if current is None or candidate[:2] < current[:2]:
                    best[end] = candidate
        found = best[last]
        return () if found is None else found[2]


@lru_cache(maxsize=1)
def german_decompounder(stem: Stem) -> Decompounder:
    """The German decompounder, built once (0.1 s: 39,000 words stemmed)."""
    import wordfreq  # 0.25 s to import: only indexes that split compounds pay it

    return Decompounder(
        stem, wordfreq.get_frequency_dict("de", wordlist="small"), pyphen.Pyphen(lang="de_DE")
    )
