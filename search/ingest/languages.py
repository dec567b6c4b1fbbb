"""Detecting an article's language when its record does not say.

``py3langid`` (a maintained fork of langid.py) ships its model inside the package and
runs offline on numpy; the opening of an article is enough for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

SAMPLE_CHARS = 2000


@lru_cache(maxsize=1)
def _classifier() -> Callable[[str], tuple[str, float]]:
    import py3langid  # loads its model on import: only when a record needs it

    return py3langid.classify  # type: ignore[no-any-return]


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or None for text with no letters."""
    sample = text[:SAMPLE_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return None
    language, _score = _classifier()(sample)
    return str(language)


def canonical_language(tag: str) -> str:
    """``tag`` as BCP 47 writes it: ``DE_at`` -> ``de-AT``, ``zh-hant-tw`` -> ``zh-Hant-TW``.

    The language is lower case, a four-letter script title case and a region upper
    case; other subtags (variants, extensions) stay lower case.
    """
    parts = [p for p in tag.strip().replace("_", "-").split("-") if p]
    if not parts:
        return ""
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha() and len(out) == 1:
            out.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def primary_language(tag: str) -> str:
    """The language of a BCP 47 tag without script or region (``de-AT`` -> ``de``).

    Facets and the language filter count ``de``, ``de-AT`` and ``de-CH`` as one
    language: a reader narrowing to German wants all three.
    """
    return canonical_language(tag).split("-", 1)[0]
