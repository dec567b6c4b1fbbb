"""Rebuild only the lexical side of an index's live generation, keeping its vectors.

Analysis changes (``search.lexical.analysis``) need a new Whoosh index, not new
embeddings: this re-indexes the stored articles with the current code, in place,
in a few seconds instead of a full rebuild's minutes. For trying analysis variants
on a copy of an index (``cp -a``), never on one that serves.

    python bench/relex.py /tmp/gnad-copy [--compounds | --no-compounds]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from search.lexical.analysis import COMPOUNDS
from search.lexical.index import LexicalIndex
from search.storage.folder import LEXICAL_DIR
from search.storage.manifest import Manifest


def relex(index: Path, compounds: bool = COMPOUNDS) -> int:
    """Re-index the live generation's articles; return how many there were."""
    generation = index / (index / "CURRENT").read_text(encoding="utf-8").strip()
    old = LexicalIndex(generation / LEXICAL_DIR)
    articles = list(old.articles())
    old.close()
    fresh_dir = generation / f"{LEXICAL_DIR}.new"
    shutil.rmtree(fresh_dir, ignore_errors=True)
    fresh = LexicalIndex.create(fresh_dir, compounds)
    with fresh.writer(fresh=True, passages=Manifest.load(generation).passages) as writer:
        for article in articles:
            writer.upsert(article)
    fresh.close()
    shutil.rmtree(generation / LEXICAL_DIR)
    fresh_dir.rename(generation / LEXICAL_DIR)
    return len(articles)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--compounds", action=argparse.BooleanOptionalAction, default=COMPOUNDS)
    args = parser.parse_args()
    started = time.perf_counter()
    count = relex(args.index, args.compounds)
    print(f"{count} articles re-indexed in {time.perf_counter() - started:.1f} s")
