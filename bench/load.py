"""Load test: searches over real HTTP while articles are added and the index is rebuilt.

A real ``news-search serve`` runs on 127.0.0.1 and a free port. Several client
threads send a mix of searches, article and similar-article requests and health
checks, while one writer runs the real CLI in order: adds, then ``export`` plus a
``rebuild`` from that export (so the rebuild keeps every article), then more adds.
The run is bounded: it ends when the writer is done and ``--seconds`` have passed,
or at ``--max-seconds`` at the latest; it then checks that every article is there.

    python -m bench.load                      # the default run, a few minutes
    python -m bench.load --clients 2 --seconds 30 --adds 2 --plot

It prints requests, errors (any status other than 2xx, and failed connections),
p50/p95/p99 latency per request kind, and the articles before and after; the exit
status is 1 if any request failed or any article went missing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlsplit

import numpy as np

from bench.serving import HOST, server

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "zeitgeist-de-teasers" / "articles.jsonl"
WORDS = [
    "Regierung", "Wahl", "Ukraine", "Klima", "Wirtschaft", "Trump", "Bundestag", "Zölle",
    "Hitze", "Streik", "Gericht", "Polizei", "Energie", "Fußball", "Börse", "Migration",
]  # fmt: skip
KINDS = {  # request kind -> share of requests
    "search hybrid": 0.45,
    "search lexical": 0.2,
    "search semantic": 0.1,
    "article": 0.1,
    "similar": 0.1,
    "health": 0.05,
}


@dataclass
class Sample:
    """One request: when it started (seconds into the run), its kind, status and latency."""

    at: float
    kind: str
    status: int  # 0: the connection failed
    seconds: float


@dataclass
class Run:
    """Everything the clients and the writer saw."""

    samples: list[Sample] = field(default_factory=list)
    # client -> (generation, article count) of each health answer, in order
    health: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    writes: list[tuple[float, str]] = field(default_factory=list)
    writer_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _cli(*args: str, stdout: int | IO[bytes] = subprocess.DEVNULL) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "search", *args], stdout=stdout, stderr=subprocess.PIPE
    )
    if done.returncode != 0:
        raise RuntimeError(f"news-search {args[0]} exited {done.returncode}: {done.stderr!r}")


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def _client(
    port: int, ids: list[str], seed: int, started: float, stop: threading.Event, run: Run
) -> None:
    """Send random requests until ``stop``; a failed connection counts as an error."""
    rng = random.Random(seed)
    seen = run.health.setdefault(seed, [])
    kinds, weights = list(KINDS), list(KINDS.values())
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    while not stop.is_set():
        kind = rng.choices(kinds, weights)[0]
        words = " ".join(rng.sample(WORDS, rng.choice((1, 2))))
        path = {
            "search hybrid": f"/search?q={quote(words)}&mode=hybrid",
            "search lexical": f"/search?q={quote(words)}&mode=lexical",
            "search semantic": f"/search?q={quote(words)}&mode=semantic",
            "article": f"/articles/{quote(rng.choice(ids))}",
            "similar": f"/articles/{quote(rng.choice(ids))}/similar?limit=5",
            "health": "/health",
        }[kind]
        begin = time.perf_counter()
        try:
            status, body = _get(conn, path)
        except (OSError, http.client.HTTPException):
            status, body = 0, b""
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
        end = time.perf_counter()
        with run.lock:
            run.samples.append(Sample(begin - started, kind, status, end - begin))
            if kind == "health" and status == 200:
                health = json.loads(body)
                seen.append((health["generation"], health["articles"]))
    conn.close()


def _writer(
    index: Path, work: Path, batches: list[Path], gap: float, started: float, run: Run
) -> None:
    """Add the batches with a rebuild from an export in the middle, ``gap`` s apart."""
    half = len(batches) // 2
    steps: list[tuple[str, Path | None]] = [("add", b) for b in batches[:half]]
    steps += [("rebuild", None)] + [("add", b) for b in batches[half:]]
    try:
        for action, batch in steps:
            time.sleep(gap)
            if action == "add" and batch is not None:
                _cli("add", str(batch), "--index", str(index))
                what = f"add {batch.name}"
            else:
                snapshot = work / "export.jsonl"
                with snapshot.open("wb") as out:
                    _cli("export", "--index", str(index), stdout=out)
                _cli("rebuild", str(snapshot), "--index", str(index))
                what = "export + rebuild"
            run.writes.append((time.perf_counter() - started, what))
    except RuntimeError as exc:
        run.writer_error = str(exc)


def _table(run: Run) -> str:
    lines = [
        f"{'request':<16}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}"
    ]
    for kind in [*KINDS, "all"]:
        rows = [s for s in run.samples if kind in ("all", s.kind)]
        if not rows:
            continue
        ms = np.array([s.seconds for s in rows]) * 1000
        errors = sum(not 200 <= s.status < 300 for s in rows)
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        lines.append(
            f"{kind:<16}{len(rows):>9}{errors:>8}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{ms.max():>9.1f}"
        )
    return "\n".join(lines)


def _plot(run: Run, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("--plot needs matplotlib: pip install matplotlib")
    fig, ax = plt.subplots(figsize=(10, 4))
    for kind in KINDS:
        rows = [s for s in run.samples if s.kind == kind]
        ax.scatter([s.at for s in rows], [s.seconds * 1000 for s in rows], s=2, label=kind)
    for at, what in run.writes:
        ax.axvline(at, color="grey", linewidth=0.8)
        ax.text(at, ax.get_ylim()[1], what, rotation=90, va="top", fontsize=7)
    ax.set(xlabel="seconds into the run", ylabel="latency (ms)", yscale="log")
    ax.legend(markerscale=4, fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def _all_present(port: int, ids: list[str]) -> list[str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    missing = [i for i in ids if _get(conn, f"/articles/{quote(i)}")[0] != 200]
    conn.close()
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--articles", type=int, default=400, help="articles indexed at start")
    parser.add_argument("--adds", type=int, default=6, help="add commands during the run")
    parser.add_argument("--batch", type=int, default=25, help="articles per add")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120.0, help="least run time")
    parser.add_argument("--max-seconds", type=float, default=420.0, help="hard limit")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plot", type=Path, nargs="?", const=REPO / "bench/out/load.png")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="news-search-load-"))
    index = work / "index"
    records = []
    with args.corpus.open(encoding="utf-8") as handle:
        for line in handle:
            records.append(line)
            if len(records) == args.articles + args.adds * args.batch:
                break
    (work / "start.jsonl").write_text("".join(records[: args.articles]), encoding="utf-8")
    batches = []
    for n in range(args.adds):
        chunk = records[args.articles + n * args.batch : args.articles + (n + 1) * args.batch]
        batches.append(work / f"add-{n + 1}.jsonl")
        batches[-1].write_text("".join(chunk), encoding="utf-8")
    expected = [json.loads(r)["id"] for r in records]

    print(f"building the starting index ({args.articles} articles) in {work} ...", flush=True)
    _cli("rebuild", str(work / "start.jsonl"), "--index", str(index))
    run = Run()
    with server(index, work / "server.log") as (base, _pid):
        port = int(urlsplit(base).port or 0)
        before = json.loads(_get(http.client.HTTPConnection(HOST, port), "/health")[1])
        started = time.perf_counter()
        stop = threading.Event()
        clients = [
            threading.Thread(
                target=_client,
                args=(port, expected[: args.articles], args.seed + n, started, stop, run),
            )
            for n in range(args.clients)
        ]
        gap = args.seconds / (args.adds + 2)
        writer = threading.Thread(target=_writer, args=(index, work, batches, gap, started, run))
        for thread in [*clients, writer]:
            thread.start()
        writer.join(timeout=args.max_seconds)
        remaining = args.seconds - (time.perf_counter() - started)
        if remaining > 0 and not writer.is_alive():
            time.sleep(remaining)
        stop.set()
        for thread in clients:
            thread.join()
        elapsed = time.perf_counter() - started
        if writer.is_alive():
            sys.exit(f"the writer did not finish within --max-seconds {args.max_seconds}")
        after = json.loads(_get(http.client.HTTPConnection(HOST, port), "/health")[1])
        missing = _all_present(port, expected)

    errors = sum(not 200 <= s.status < 300 for s in run.samples)
    print(
        f"\nload test: {args.clients} clients for {elapsed:.0f}s on {HOST}:{port}; "
        f"writes: {args.adds} adds of {args.batch} articles and 1 export + rebuild"
    )
    for at, what in run.writes:
        print(f"  {at:6.1f}s  {what}")
    print()
    print(_table(run))
    print(
        f"\nrequests: {len(run.samples)}  errors: {errors}  "
        f"({sum(s.status >= 500 for s in run.samples)} 5xx, "
        f"{sum(s.status == 0 for s in run.samples)} failed connections)"
    )
    print(
        f"articles before: {before['articles']} ({before['generation']})  "
        f"after: {after['articles']} ({after['generation']})  "
        f"expected: {len(expected)}  lost: {len(missing)}"
    )
    generations = {g for answers in run.health.values() for g, _count in answers}
    steady = all(
        [c for _g, c in answers] == sorted(c for _g, c in answers)
        for answers in run.health.values()
    )
    print(
        f"generations served to clients: {len(generations)}; "
        f"article counts each client saw never went down: {steady}"
    )
    if run.writer_error:
        print(f"the writer failed: {run.writer_error}")
    if args.plot:
        _plot(run, args.plot)
    if errors or missing or not steady or run.writer_error or after["articles"] != len(expected):
        sys.exit(1)


if __name__ == "__main__":
    main()
