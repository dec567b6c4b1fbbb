"""Ingest throughput per format: reading and extracting, with embedding shown apart.

A crawl of at least 5,000 saved news pages is generated in a temporary folder from
the German corpora (each page with navigation, an aside, a footer and scripts
around the article), as a gzipped WARC with a request record before every
response. The same articles are also written as JSONL (plain and gzipped), a JSON
array, a semicolon CSV and an RSS feed. Each file goes through the readers as
``rebuild`` reads it (sniffing, decompression, extraction, field mapping,
validation, language detection) without indexing, and the table gives MB/s and
articles/s. WARC record parsing alone is timed with warcio and, if installed,
fastwarc. Embedding, the slow part of a rebuild, is timed on a sample with the
packaged model (one thread) and shown in its own row.

    python -m bench.ingest [--pages 5000] [--embed-sample 100]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import html
import io
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from search.ingest.article import Article
from search.ingest.indexing import embed_articles
from search.ingest.passages import PassageSettings
from search.ingest.readers import ReadReport, read_articles

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SOURCES = ("10kgnad", "wikinews-de")
FIRST_DAY = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
PAGE = """<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">
<title>{title} | Archivkurier</title>
<meta property="article:published_time" content="{date}">
<link rel="canonical" href="{url}"><script src="/app.js"></script>
<script>window.dataLayer = [{{"page": "{n}"}}];</script></head>
<body><header><nav><a href="/">Start</a> <a href="/politik">Politik</a>
<a href="/wirtschaft">Wirtschaft</a> <a href="/sport">Sport</a></nav></header>
<main><article><h1>{title}</h1>{paragraphs}</article></main>
<aside><h3>Meistgelesen</h3><ul><li>Andere Meldung A</li><li>Andere Meldung B</li>
</ul></aside><footer>Impressum · Datenschutz · Kontakt · © Archivkurier</footer></body></html>
"""


def corpus_articles(count: int) -> Iterator[dict[str, str]]:
    """``count`` articles from the German corpora, cycled with a number where needed."""
    base = []
    for name in SOURCES:
        with (CORPORA / name / "articles.jsonl").open(encoding="utf-8") as handle:
            base.extend(json.loads(line) for line in handle)
    for n in range(count):
        record = base[n % len(base)]
        text = record["text"]
        title = record.get("title") or text.split(". ")[0][:80]
        day = FIRST_DAY + timedelta(hours=7 * n)
        yield {
            "id": f"page-{n:05d}",
            "title": f"{title} ({n // len(base) + 1})" if n >= len(base) else title,
            "text": text,
            "date": day.isoformat(),
            "rfc822": format_datetime(day),
            "url": f"https://archiv.example/{n:05d}",
        }


def write_files(folder: Path, pages: int) -> dict[str, Path]:
    records = list(corpus_articles(pages))
    files = {
        "warc.gz": folder / "crawl.warc.gz",
        "jsonl": folder / "export.jsonl",
        "jsonl.gz": folder / "export.jsonl.gz",
        "json": folder / "export.json",
        "csv": folder / "excel.csv",
        "rss": folder / "feed.rss",
    }
    with files["warc.gz"].open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for n, record in enumerate(records):
            paragraphs = "".join(
                f"<p>{html.escape(p)}</p>" for p in record["text"].split("\n") if p.strip()
            )
            page = PAGE.format(
                title=html.escape(record["title"]),
                date=record["date"],
                url=record["url"],
                n=n,
                paragraphs=paragraphs,
            ).encode()
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "archiv.example")])
            writer.write_record(
                writer.create_warc_record(
                    record["url"], "request", payload=io.BytesIO(b""), http_headers=request
                )
            )
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            writer.write_record(
                writer.create_warc_record(
                    record["url"], "response", payload=io.BytesIO(page), http_headers=headers
                )
            )
    plain = [{k: r[k] for k in ("id", "title", "text", "date", "url")} for r in records]
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in plain).encode()
    files["jsonl"].write_bytes(lines)
    files["jsonl.gz"].write_bytes(gzip.compress(lines))
    files["json"].write_text(json.dumps(plain, ensure_ascii=False), encoding="utf-8")
    with files["csv"].open("w", encoding="utf-8-sig", newline="") as handle:
        table = csv.writer(handle, delimiter=";")
        table.writerow(["ID", "Überschrift", "Inhalt", "Datum"])
        table.writerows([r["id"], r["title"], r["text"], r["date"][:10]] for r in records)
    items = "".join(
        f"<item><title>{html.escape(r['title'])}</title><link>{r['url']}</link>"
        f"<guid>{r['url']}</guid><pubDate>{r['rfc822']}</pubDate>"
        f"<description>{html.escape(r['text'])}</description></item>"
        for r in records
    )
    files["rss"].write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Archivkurier</title>'
        f"<language>de</language>{items}</channel></rss>",
        encoding="utf-8",
    )
    return files


def time_read(path: Path) -> tuple[float, int]:
    started = time.process_time()
    report = ReadReport()
    count = sum(1 for _ in read_articles([path], report))
    assert not report.errors, report.errors[:3]
    return time.process_time() - started, count


def time_records(path: Path) -> list[tuple[str, float, int]]:
    """WARC record iteration alone (the HTML payload read, nothing extracted)."""
    from warcio.archiveiterator import ArchiveIterator

    rows = []
    started = time.process_time()
    with path.open("rb") as handle:
        count = sum(1 for r in ArchiveIterator(handle) if r.content_stream().read() is not None)
    rows.append(("warcio", time.process_time() - started, count))
    try:
        from fastwarc.warc import ArchiveIterator as FastIterator
    except ImportError:
        return rows
    started = time.process_time()
    with path.open("rb") as handle:
        count = sum(1 for r in FastIterator(handle) if r.reader.read() is not None)
    rows.append(("fastwarc", time.process_time() - started, count))
    return rows


def time_embedding(sample: int) -> tuple[float, int, int]:
    from search.semantic.embedders import UniversalSentenceEncoder

    articles = [
        Article(id=r["id"], title=r["title"], body=r["text"]) for r in corpus_articles(sample)
    ]
    embedder = UniversalSentenceEncoder(threads=1)
    embedder.encode(["warm up"])
    started = time.process_time()
    matrices = embed_articles(articles, embedder, PassageSettings())
    return time.process_time() - started, len(articles), sum(len(m) for m in matrices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--embed-sample", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        files = write_files(Path(tmp), args.pages)
        # Load the language model and the extractor before anything is timed.
        warm = Path(tmp) / "warm"
        warm.mkdir()
        for path in write_files(warm, 3).values():
            time_read(path)
        print(f"{args.pages} articles per file; CPU seconds of one process\n")
        print("| format | file MB | articles | CPU s | MB/s | articles/s |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, path in files.items():
            seconds, count = time_read(path)
            size = path.stat().st_size / 1e6
            print(
                f"| {name} | {size:.1f} | {count} | {seconds:.1f} | {size / seconds:.1f} "
                f"| {count / seconds:.0f} |"
            )
        seconds, count, passages = time_embedding(args.embed_sample)
        print(
            f"| embedding (packaged model, 1 thread, sample) | | {count} | {seconds:.1f} | "
            f"| {count / seconds:.1f} ({passages / seconds:.0f} passages/s) |"
        )
        print("\nWARC record parsing alone (payload read, no extraction):\n")
        print("| library | records | CPU s | records/s |")
        print("|---|---:|---:|---:|")
        for library, seconds, count in time_records(files["warc.gz"]):
            print(f"| {library} | {count} | {seconds:.2f} | {count / seconds:.0f} |")


if __name__ == "__main__":
    main()
