"""Generate N realistic German news articles from the sentences of a real corpus.

The benchmark needs archives of 10k and 100k articles, but the shared 10kGNAD test
split holds about a thousand. Each generated article mixes sentences of real articles
of one category (runs of a few consecutive sentences, so the prose stays locally
coherent and the vocabulary of a topic stays together) and has a length drawn from
the real length distribution, so tokenizer, analyzer and embedder see the same work
per character as on the real archive. Output is deterministic for a seed and is
written line by line: 100k articles never sit in memory at once.

    python bench/generate.py 10000 bench/out/articles-10k.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from search.ingest.article import split_sentences

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "10kgnad" / "articles.jsonl"
MAX_RUN = 4
TITLE_WORDS = (4, 9)
FIRST_DAY = date(2015, 6, 1)
DAYS = 366


@dataclass(frozen=True)
class Category:
    """The sentence material of one category: its sub-headlines and its body sentences."""

    name: str
    heads: list[str]
    documents: list[list[str]]


def load_categories(corpus: Path) -> tuple[list[Category], list[int]]:
    """Sentences grouped by category, and the text lengths of the real articles."""
    heads: dict[str, list[str]] = defaultdict(list)
    documents: dict[str, list[list[str]]] = defaultdict(list)
    lengths: list[int] = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            sentences = split_sentences(record["text"])
            if len(sentences) < 2:
                continue
            category = record.get("category") or "none"
            lengths.append(len(record["text"]))
            # 10kGNAD opens every text with the sub-headline.
            heads[category].append(sentences[0])
            documents[category].append(sentences[1:])
    categories = [Category(name, heads[name], documents[name]) for name in sorted(heads)]
    return categories, sorted(lengths)


def _title(rng: random.Random, head: str) -> str:
    words = head.split()
    return " ".join(words[: rng.randint(*TITLE_WORDS)]).rstrip(",:;\u2013-")


def _body(rng: random.Random, category: Category, target: int) -> str:
    sentences: list[str] = []
    size = 0
    while size < target:
        document = rng.choice(category.documents)
        start = rng.randrange(len(document))
        for sentence in document[start : start + rng.randint(1, MAX_RUN)]:
            sentences.append(sentence)
            size += len(sentence) + 1
            if size >= target:
                break
    return " ".join(sentences)


def generate(
    count: int,
    seed: int = 0,
    corpus: Path = DEFAULT_CORPUS,
    max_chars: int | None = None,
    days: int = DAYS,
) -> Iterator[dict[str, str]]:
    """Yield ``count`` article records (ids ``bench-000001`` ...), the same ones for a seed.

    ``max_chars`` caps the drawn lengths (the quick benchmark's short articles);
    dates fall in the ``days`` from ``FIRST_DAY`` (3,653: ten years, ten yearly shards).
    """
    categories, lengths = load_categories(corpus)
    weights = [len(c.documents) for c in categories]
    rng = random.Random(seed)
    for number in range(1, count + 1):
        category = rng.choices(categories, weights)[0]
        lead = rng.choice(category.heads)
        target = max(min(rng.choice(lengths), max_chars or 1 << 30) - len(lead), 80)
        day = FIRST_DAY + timedelta(days=rng.randrange(days))
        yield {
            "id": f"bench-{number:06d}",
            "title": _title(rng, rng.choice(category.heads)),
            "lead": lead,
            "text": _body(rng, category, target),
            "date": day.isoformat(),
            "source": "derStandard.at",
            "language": "de",
            "category": category.name,
        }


def write(
    count: int,
    path: Path,
    seed: int = 0,
    corpus: Path = DEFAULT_CORPUS,
    max_chars: int | None = None,
    days: int = DAYS,
) -> Path:
    """Write ``count`` generated articles as JSONL to ``path`` (streamed) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for record in generate(count, seed, corpus, max_chars, days):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--max-chars", type=int, default=None)
    parser.add_argument("--days", type=int, default=DAYS, help="the dates' span from 2015-06-01")
    args = parser.parse_args()
    write(args.count, args.out, args.seed, args.corpus, args.max_chars, args.days)


if __name__ == "__main__":
    main()
