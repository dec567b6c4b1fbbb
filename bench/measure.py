"""Measuring tools: phases in child processes, peak memory of a process tree, latencies.

Each benchmark phase runs in a fresh child process, so the peak memory reported for
it is that phase's own (a build's leftovers never inflate a query phase) and its
embedding workers are counted with it: the parent samples the resident memory of
the child and all its descendants and keeps the highest sum.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

SAMPLE_SECONDS = 0.1
MB = 1024 * 1024

Result = dict[str, Any]


class PeakMemory:
    """Sample the summed RSS of a process and its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        total = 0
        try:
            processes = [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue  # exited between listing and reading
        self.peak_bytes = max(self.peak_bytes, total)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_SECONDS)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / MB


def _child(target: Callable[..., Result], args: tuple[Any, ...], pipe: Any) -> None:
    try:
        result = target(*args)
        # The process's own high-water mark (kB on Linux): sampling every few
        # hundred milliseconds misses a short peak on a busy machine.
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        pipe.send(("ok", {**result, "_own_peak_bytes": own_peak}))
    except BaseException as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


def run_phase(target: Callable[..., Result], *args: Any) -> Result:
    """Run ``target(*args)`` in a fresh process; return its result plus ``peak_mb``."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(target, args, send))
    load = os.getloadavg()[0]
    process.start()
    with PeakMemory(process.pid) as memory:
        status, result = receive.recv()
        process.join()
    if status != "ok":
        raise RuntimeError(f"phase {target.__name__} failed: {result}")
    own_peak = result.pop("_own_peak_bytes")
    result["peak_mb"] = round(max(memory.peak_bytes, own_peak) / MB, 1)
    # The machine's 1-minute load before and after: other work on a shared machine
    # slows a phase, and this says how busy it was.
    result["load"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    return result


def percentiles(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of latencies, in milliseconds."""
    values = np.asarray(list(seconds)) * 1000
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "mean": round(float(values.mean()), 2),
        "n": len(values),
    }


def timed(call: Callable[[], object], repeat: int = 1) -> list[float]:
    """Wall-clock seconds of each of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def folder_mb(path: Path) -> float:
    """Size on disk of every file under ``path``."""
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB, 1)
