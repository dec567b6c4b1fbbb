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
