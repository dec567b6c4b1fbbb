"""Serving processes: ``serve --workers N`` forks N servers that share one loaded index.

A query is Python work under the GIL, so one process answers on one core at a time;
more threads only queue. The parent opens the index and loads the model once, then
forks: the workers share those pages (model weights, vectors, the readers' caches as
they were) copy-on-write instead of each loading a copy, and all accept connections
on the one listening socket the parent bound.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (port 0: any free one), or OSError."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, kind, proto, _name, address = infos[0]
    server = socket.socket(family, kind, proto)
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(address)
        server.listen(2048)
    except OSError:
        server.close()
        raise
    server.set_inheritable(True)
    return server


def run_workers(count: int, serve: Callable[[], None]) -> int:
    """Run ``serve`` in ``count`` forked processes (in this one when ``count`` is 1).

    A stop signal to the parent is passed on to every worker; a worker that ends
    with an error stops the others. Returns 0 if every worker ended cleanly.
    """
    if count == 1:
        serve()
        return 0
    children: set[int] = set()
    for _ in range(count):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                serve()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                os._exit(code)
        children.add(pid)

    def stop(_signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while children:
        pid, raw = os.wait()
        children.discard(pid)
        if os.waitstatus_to_exitcode(raw) not in (0, -signal.SIGTERM, -signal.SIGINT):
            status = 1
            stop()
    return status
