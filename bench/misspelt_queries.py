"""Write misspelt variants of keyword queries, to check spelling correction end to end.

Each keyword query (``kw_*``) gets one typo in its longest word of at least six
letters: a letter dropped, doubled or swapped with its neighbour, chosen by a hash
of the query id, so the file is the same on every run. The relevance judgments stay
those of the original query. Usage::

    python bench/misspelt_queries.py ../shared/queries/10kgnad-dev.jsonl \
        > bench/out/10kgnad-dev-misspelt.jsonl
    python bench/misspelt_queries.py tests/data/10kgnad-heldout.jsonl \
        > tests/data/10kgnad-heldout-misspelt.jsonl
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from pathlib import Path

MIN_LETTERS = 6


def misspell(word: str, seed: int) -> str:
    """One typo inside ``word`` (never its first letter, which typists rarely miss).

    Swapping two equal letters changes nothing, so such a swap drops a letter instead.
    """
    at = 1 + seed % (len(word) - 2)
    kind = (seed // 7) % 3
    if kind == 2 and word[at] != word[at + 1]:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == 1:
        return word[:at] + word[at] + word[at:]
    return word[:at] + word[at + 1 :]


def main(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not str(row.get("type", "")).startswith("kw"):
            continue
        words = [w for w in re.findall(r"\w+", row["query"]) if len(w) >= MIN_LETTERS]
        if not words:
            continue
        target = max(words, key=len)
        typo = misspell(target, zlib.crc32(row["qid"].encode("utf-8")))
        query = re.sub(rf"\b{re.escape(target)}\b", typo, row["query"], count=1)
        print(
            json.dumps(
                {**row, "qid": f"{row['qid']}-typo", "type": f"{row['type']}_typo", "query": query},
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
