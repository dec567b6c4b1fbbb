"""Write the cross-lingual known-item task: English WMT articles querying for German ones.

For every English article of ``wmt-news-de-en-fr`` whose ``pair`` is a German article,
two queries: its title (``title_en``) and its first two sentences (``lead_en``); the
German counterpart is the one relevant document. Usage::

    python bench/crosslingual_queries.py ../shared/corpora/wmt-news-de-en-fr/articles.jsonl \
        > bench/out/wmt-en-de.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from search.ingest.article import split_sentences


def main(corpus: Path) -> None:
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    language = {row["id"]: row["language"] for row in rows}
    for row in rows:
        target = row.get("pair")
        if row["language"] != "en" or language.get(target) != "de":
            continue
        lead = " ".join(split_sentences(row["text"])[:2])
        for kind, text in (("title_en", row.get("title")), ("lead_en", lead)):
            if text:
                print(
                    json.dumps(
                        {
                            "qid": f"{row['id']}-{kind}",
                            "type": kind,
                            "query": text,
                            "relevant": [target],
                        },
                        ensure_ascii=False,
                    )
                )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
