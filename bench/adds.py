"""Many CLI writers against a server under read load: every add must land.

    python -m bench.adds --index /tmp/adds-index --adds 100 --parallel 6

Copies nothing: it writes into ``--index`` (build one first, e.g. of ``seeds/``).
A real ``news-search serve`` on 127.0.0.1 answers two looping readers and a
``/health`` poller while ``--adds`` one-article ``news-search add --wait``
processes run, ``--parallel`` at a time. Bounded: every loop stops when the adds
are done, and each add waits at most ``--wait`` seconds for the lock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.serving import REQUEST_TIMEOUT, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--adds", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=6)
    parser.add_argument("--wait", type=float, default=900)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="adds-"))
    files = []
    for n in range(args.adds):
        article = {"id": f"bench-add-{n}", "title": f"Eintrag {n}", "text": f"Eintrag {n}."}
        (path := folder / f"{n}.jsonl").write_text(json.dumps(article), encoding="utf-8")
        files.append(path)
    statuses: list[int] = []
    health: list[float] = []
    stop = threading.Event()
    with server(args.index, folder / "server.log") as (base, _pid):

        def read() -> None:
            with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
                while not stop.is_set():
                    statuses.append(client.get("/search", params={"q": "Eintrag"}).status_code)

        def poll() -> None:
            with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
                while not stop.is_set():
                    started = time.perf_counter()
                    client.get("/health").raise_for_status()
                    health.append(time.perf_counter() - started)
                    time.sleep(0.5)

        def add(path: Path) -> int:
            command = [sys.executable, "-m", "search", "add", str(path)]
            command += ["--index", str(args.index), "--wait", str(args.wait)]
            return subprocess.run(command, capture_output=True, check=False).returncode

        threads = [threading.Thread(target=read) for _ in range(2)]
        threads.append(threading.Thread(target=poll))
        for thread in threads:
            thread.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.parallel) as pool:
            codes = list(pool.map(add, files))
        seconds = time.perf_counter() - started
        stop.set()
        for thread in threads:
            thread.join()
    print("| adds | succeeded | seconds | reads | read statuses | /health max s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.adds} ({args.parallel} at a time) | {codes.count(0)} | {seconds:.0f} "
        f"| {len(statuses)} | {sorted(set(statuses))} | {max(health, default=0):.2f} |"
    )


if __name__ == "__main__":
    main()
