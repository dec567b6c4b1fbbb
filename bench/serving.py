"""Latency and throughput over real HTTP against ``news-search serve`` on loopback.

The server runs as its own process, exactly as a user starts it, on 127.0.0.1 and a
free port; every loop here is bounded in requests and in time, and the server is
stopped when the measurement ends, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from bench.measure import MB, Result, percentiles

HOST = "127.0.0.1"
START_TIMEOUT = 120.0
REQUEST_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    """The kernel's high-water mark of the process's resident memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) * 1024 / MB, 1)
    raise RuntimeError(f"no VmHWM for process {pid}")


@contextlib.contextmanager
def server(
    index: Path, log: Path, *options: str, source: Path | None = None
) -> Iterator[tuple[str, int]]:
    """Run ``python -m search serve`` on a free loopback port until the block ends;
    ``options`` are more of serve's options (``--api-key-file PATH``). ``source`` is a
    checkout of the project whose code serves instead of this one (an earlier version,
    to compare with). One serving process unless ``options`` say ``--workers``, so
    the peak memory read from its pid is the whole server's."""
    port = _free_port()
    code = {} if source is None else {"PYTHONPATH": str(source.resolve())}
    if source is None and "--workers" not in options:
        options = (*options, "--workers", "1")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "search",
                "serve",
                "--index",
                str(index.resolve()),
                "--host",
                HOST,
                "--port",
                str(port),
                *options,
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            # The settings come from the command line alone, never from the caller's
            # environment.
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("NEWS_SEARCH_")},
                "PYTHONUNBUFFERED": "1",
                **code,
            },
            cwd=source,  # ``-m`` imports from the working folder first
        )
        try:
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}; see {log}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not up after {START_TIMEOUT:.0f}s; see {log}")
                time.sleep(0.2)
            yield base, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _search_path(query: str, mode: str) -> str:
    return f"/search?q={quote(query)}&mode={mode}&limit=10"


def _latencies(client: httpx.Client, paths: list[str], repeat: int) -> dict[str, float]:
    for path in paths[:5]:
        client.get(path).raise_for_status()
    times = []
    for _ in range(repeat):
        for path in paths:
            started = time.perf_counter()
            client.get(path).raise_for_status()
            times.append(time.perf_counter() - started)
    return percentiles(times)


def _concurrent(base: str, paths: list[str], clients: int, seconds: float) -> Result:
    """``clients`` threads, each with its own connection, for at most ``seconds``."""
    times: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
            n = offset
            while time.monotonic() < deadline:
                started = time.perf_counter()
                client.get(paths[n % len(paths)]).raise_for_status()
                with lock:
                    times.append(time.perf_counter() - started)
                n += clients
            # every thread stops at the deadline; one request may run past it

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(times),
        "requests_per_s": round(len(times) / wall, 1),
        "latency": percentiles(times),
    }


def measure(
    index: Path,
    queries: list[str],
    similar_ids: list[str],
    repeat: int,
    clients: tuple[int, ...],
    seconds: float,
    log: Path,
) -> Result:
    """Sequential latency per mode and for similar, then hybrid throughput per client count."""
    with (
        server(index, log) as (base, pid),
        httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client,
    ):
        result: Result = {
            mode: _latencies(client, [_search_path(q, mode) for q in queries], repeat)
            for mode in ("lexical", "semantic", "hybrid")
        }
        result["similar"] = _latencies(
            client, [f"/articles/{quote(i)}/similar?limit=10" for i in similar_ids], repeat
        )
        hybrid = [_search_path(q, "hybrid") for q in queries]
        result["concurrent"] = [_concurrent(base, hybrid, n, seconds) for n in clients]
        result["peak_mb"] = _peak_rss_mb(pid)
    return result
