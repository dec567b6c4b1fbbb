"""Text analysis for German and English news, as Whoosh analyzers.

What a term looks like after analysis, and why:
- Words are lowercased and Snowball stemmed (PyStemmer, C speed) in the article's
  language: German for German articles and every language without its own
  analysis, English for English ones (``elections`` and ``elected`` meet at
  ``elect``, which the German stemmer leaves apart). ``ANALYSED_LANGUAGES`` lists
  them; ``search.lexical.parse`` gives each its own fields.
- German stemming makes ``Verhandlungen`` and ``Verhandlung`` meet; the stemmer
  also folds umlauts and their transliterations (``Brüssel``, ``Bruessel`` ->
  ``brussel``; ``ß`` -> ``ss``).
- Short all-capital words (``US``, ``EU``, ``UN``, ``ÖVP``) are acronyms: kept whole,
  never stemmed and never dropped as stop words (``us`` is an English stop word).
- Hyphenated words index their parts and, in the index only, the joined form:
  ``Ukraine-Krieges`` yields ``ukrain``, ``krieg`` and ``ukrainekrieg``, so the
  query ``Ukrainekrieg`` finds it while the query ``Ukraine-Krieg`` asks for both parts.
- With ``compounds`` on, German closed compounds index their parts too, in the
  index only: ``Ukrainekrieg`` yields ``ukrainekrieg``, ``ukrain`` and ``krieg``, so
  the query ``Krieg in der Ukraine`` finds it (``search.lexical.compounds`` says when
  a word is split). It is off (``COMPOUNDS``) until it pays in hybrid mode too
  (docs/quality.md); an index keeps the setting it was built with.
- Accents are folded before stemming (``Café`` and ``Cafe`` meet) so a query typed
  without them matches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import Stemmer
from whoosh.analysis import CompositeAnalyzer, Filter, RegexTokenizer, Token

from search.lexical.compounds import german_decompounder

# Hyphen-minus, hyphen (U+2010) and non-breaking hyphen (U+2011) join word parts.
HYPHENS = "-\u2010\u2011"
TOKEN_PATTERN = rf"\w+(?:[{HYPHENS}]\w+)*"
ACRONYM_MAX_LEN = 5

# Function words of German and English news prose: frequent, never what a searcher
# means. Acronyms are exempt, so "US" survives although "us" is listed.
_STOP_WORD_TEXT = """
    aber als am an auch auf aus bei bin bis bist da damit dann das dass dein deine dem den
    der des dessen die dies diese diesem diesen dieser dieses doch dort du durch ein eine
    einem einen einer eines er es etwa euch euer eure für hatte hatten hat hier hin ich ihr
    ihre im in ist ja jede jedem jeden jeder jedes jener jetzt kann kein keine können man
    mein mich mir mit nach nicht noch nun nur ob oder ohne sehr sein seine sich sie sind so
    über um und uns unser unter vom von vor war waren warum was weil welche wenn wer werde
    werden wie wir wird wo zu zum zur
    a an and are as at be been but by for from had has have he her his i if in into is it
    its of on or our she that the their them there they this to us was we were what which
    who will with you
"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())
# Whether new indexes split German compounds (docs/quality.md, "German compounds").
COMPOUNDS = False


# Snowball stemmers by ISO 639-1 code; the first is the default for other languages.
_SNOWBALL = {"de": "german", "en": "english"}
ANALYSED_LANGUAGES = tuple(_SNOWBALL)
DEFAULT_LANGUAGE = ANALYSED_LANGUAGES[0]


def analysis_language(language: str | None) -> str:
    """The analysis an article of ``language`` (a code such as ``en`` or ``en-GB``) gets."""
    code = (language or "").lower()[:2]
    return code if code in _SNOWBALL else DEFAULT_LANGUAGE


@lru_cache(maxsize=len(_SNOWBALL))
def _stemmer(language: str) -> Stemmer.Stemmer:
    stemmer = Stemmer.Stemmer(_SNOWBALL[language])
    stemmer.maxCacheSize = 200_000
    return stemmer


class _FoldedChars(dict[int, str]):
    """Each character's compatibility decomposition without combining marks, worked
    out once per character: NFKD decomposes character by character, so mapping
    each one gives what normalising the whole text gives, at a table lookup each."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(code))
        folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        self[code] = folded
        return folded


_FOLDED = _FoldedChars()


def fold(text: str) -> str:
    """Lowercase and strip diacritics (``Ö`` -> ``o``, ``ß`` -> ``ss``)."""
    text = text.lower().replace("ß", "ss")
    return text if text.isascii() else text.translate(_FOLDED)


def is_acronym(word: str) -> bool:
    """Whether a raw token is an acronym such as ``US``, ``EU`` or ``FPÖ``."""
    return 2 <= len(word) <= ACRONYM_MAX_LEN and word.isupper() and word.isalpha()


# Word frequencies are Zipfian: a bounded cache answers most words of any text
# without folding and stemming them again (indexing and snippets analyse 35% faster).
@lru_cache(maxsize=200_000)
def normalise_word(word: str, language: str = DEFAULT_LANGUAGE) -> str | None:
    """The index term for one word without hyphens, or None for a stop word."""
    if is_acronym(word):
        return fold(word)
    lowered = word.lower()
    if lowered in STOP_WORDS:
        return None
    # Folding first lets accented loanwords stem like their plain spelling
    # (``Café`` and ``Cafe``); the German stemmer treats ä/ö/ü like a/o/u anyway.
    return _stemmer(language).stemWord(fold(lowered))


def _german_term(word: str) -> str | None:
    return normalise_word(word, "de")


class NewsFilter(Filter):
    """Turn raw word tokens into index terms of one language (see the module docstring)."""

    # Whoosh pickles the analyzer into the index: one written before compounds
    # existed reads this default, and so analyses as it was built.
    compounds = False

    def __init__(self, language: str = DEFAULT_LANGUAGE, compounds: bool = COMPOUNDS) -> None:
        self.language = language
        self.compounds = compounds

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        language = self.language
        split = None
        if self.compounds and language == "de":
            split = german_decompounder(_german_term).split
        position = 0
        for token in tokens:
            parts = [p for p in split_hyphens(token.text) if p]
            terms = [normalise_word(part, language) for part in parts]
            first_position = position
            for part, term in zip(parts, terms, strict=True):
                if term is not None:
                    token.text = term
                    token.pos = position
                    yield token
                    if split is not None and token.mode == "index":
                        for compound_part in split(part):
                            token.text = compound_part
                            yield token
                position += 1
            if len(parts) > 1 and token.mode == "index":
                joined = normalise_word("".join(part.lower() for part in parts), language)
                if joined is not None:
                    token.text = joined
                    token.pos = first_position
                    yield token


_HYPHEN = re.compile(f"[{HYPHENS}]")


def split_hyphens(word: str) -> list[str]:
    return _HYPHEN.split(word) if _HYPHEN.search(word) else [word]


def news_analyzer(
    language: str = DEFAULT_LANGUAGE, compounds: bool = COMPOUNDS
) -> CompositeAnalyzer:
    """The analyzer of one language's text fields: tokenizer, then the news filter."""
    return RegexTokenizer(TOKEN_PATTERN) | NewsFilter(language, compounds)


def analyze(
    text: str,
    mode: str = "query",
    language: str = DEFAULT_LANGUAGE,
    compounds: bool = COMPOUNDS,
) -> list[str]:
    """Index terms of ``text`` in one language's analysis; for tests and query-side checks."""
    return [token.text for token in news_analyzer(language, compounds)(text, mode=mode)]
