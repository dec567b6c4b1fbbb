"""Abuse: expensive queries against a keyed server, timed, and /health while they run.

A real ``news-search serve`` (with a write key, given in a file) runs on 127.0.0.1
and a free port over an index of about 1,000 articles (10kGNAD's 1,028 unless
``--index`` names one). Each expensive request is sent once and timed; then
``--concurrent`` of them run at once while ``/health`` is polled. Every loop is
bounded in requests and time.

    python -m bench.abuse                       # builds the 10kGNAD index first (~1 min)
    python -m bench.abuse --index /tmp/gnad     # an index built before

It prints one row per request (status, seconds, matches, ``timed_out``) and the
/health latencies under load. The caps and the budget are asserted in
tests/test_limits.py; this script only measures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.managers import ListProxy
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx

from bench.serving import server

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "10kgnad" / "articles.jsonl"
TIMEOUT = 120.0


def _prefixes(n: int) -> str:
    letters = "abcdefghiklmnoprstuw"
    return " OR ".join(
        f"{a}{b}*" for a, b in itertools.islice(itertools.product(letters, repeat=2), n)
    )


def cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, method, path, request arguments) of every expensive request."""
    searches = [
        ("*", "*"),
        ("*a*", "*a*"),
        ("*e* *n* *r*", "*e* *n* *r*"),
        ("body:[a TO z]", "body:[a TO z]"),
        ("143 prefixes OR'd (1,000 chars)", _prefixes(143)),
        ("200 prefixes OR'd (1,400 chars)", _prefixes(200)),
    ]
    out = [
        (f"{label} {mode}", "GET", "/search", {"params": {"q": q, "mode": mode}})
        for label, q in searches
        for mode in ("lexical", "hybrid")
    ]
    out.append(("export *", "GET", "/search/export", {"params": {"q": "*", "mode": "lexical"}}))
    many = {"text": "Regierung", "source": [f"quelle-{i}" for i in range(100_000)]}
    body = {"content": json.dumps(many).encode(), "headers": {"Content-Type": "application/json"}}
    out.append(("POST /similar, 100,000 sources", "POST", "/similar", body))
    return out


def _send(base: str, method: str, path: str, kwargs: dict[str, Any]) -> tuple[int, float, Any]:
    started = time.perf_counter()
    response = httpx.request(method, base + path, timeout=TIMEOUT, **kwargs)
    seconds = time.perf_counter() - started
    body: Any = None
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
    elif response.status_code == 200:
        body = {"total": response.text.count("\n")}  # an export: its lines
    return response.status_code, seconds, body


def measure_each(base: str) -> list[tuple[str, int, float, str, str]]:
    rows = []
    for label, method, path, kwargs in cases():
        status, seconds, body = _send(base, method, path, kwargs)
        body = body or {}
        total = (
            str(body.get("total", ""))
            if status == 200
            else body.get("error", {}).get("message", "")[:40]
        )
        rows.append((label, status, seconds, total, str(body.get("timed_out", ""))))
    return rows


def _probe(base: str, stop: EventType, latencies: ListProxy) -> None:  # type: ignore[type-arg]
    """Poll /health until ``stop``, from a process of its own: the 60 client threads
    of this one would otherwise delay the probe's own measurement."""
    with httpx.Client(timeout=TIMEOUT) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{base}/health")
            latencies.append(time.perf_counter() - started)
            time.sleep(0.1)


def health_under_load(base: str, concurrent: int) -> tuple[list[float], dict[int, int], float]:
    """/health latencies while ``concurrent`` expensive requests run; their statuses."""
    heavy = [c for c in cases() if c[2] != "/search/export"]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        stop, latencies = manager.Event(), manager.list()
        prober = context.Process(target=_probe, args=(base, stop, latencies))
        prober.start()
        time.sleep(1.0)  # the prober is up before the load starts
        started = time.perf_counter()
        statuses: dict[int, int] = {}
        with ThreadPoolExecutor(concurrent) as pool:
            futures = [
                pool.submit(_send, base, m, p, k)
                for _label, m, p, k in itertools.islice(itertools.cycle(heavy), concurrent)
            ]
            for future in futures:
                status = future.result()[0]
                statuses[status] = statuses.get(status, 0) + 1
        elapsed = time.perf_counter() - started
        stop.set()
        prober.join()
        return list(latencies), statuses, elapsed


def _build(folder: Path) -> Path:
    index = folder / "index"
    subprocess.run(
        [sys.executable, "-m", "search", "rebuild", str(CORPUS), "--index", str(index)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=None, help="an index of ~1,000 articles")
    parser.add_argument("--concurrent", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        index = args.index or _build(folder)
        key_file = folder / "key"
        key_file.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        with server(index, folder / "server.log", "--api-key-file", str(key_file)) as (base, _):
            _send(base, "GET", "/search", {"params": {"q": "warm"}})  # first-request costs
            rows = measure_each(base)
            latencies, statuses, elapsed = health_under_load(base, args.concurrent)
    print(f"{'request':44} {'status':>6} {'seconds':>8} {'matches/error':>40} {'timed_out':>9}")
    for label, status, seconds, total, timed_out in rows:
        print(f"{label:44} {status:>6} {seconds:8.2f} {total:>40} {timed_out:>9}")
    latencies.sort()
    print(
        f"\n/health while {args.concurrent} expensive requests ran ({elapsed:.1f} s): "
        f"{len(latencies)} probes, median {latencies[len(latencies) // 2]:.3f} s, "
        f"max {latencies[-1]:.3f} s; their statuses: {dict(sorted(statuses.items()))}"
    )


if __name__ == "__main__":
    main()
