"""Joining a Ray cluster: ``auto``, ``HOST:PORT`` or ``local`` (a cluster of this machine).

Ray waits minutes for a head that is not there and prints its own traceback; an
operator should instead read one line naming the address, so the head's port is
tried first with a short timeout and every failure becomes a ``ClusterError``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

from search.errors import ClusterError

LOCAL = "local"
AUTO = "auto"
REACH_SECONDS = 5.0


def _import_ray():  # type: ignore[no-untyped-def]
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(
            "--ray needs the cluster extra: pip install 'news-search[cluster]'"
        ) from exc
    return ray


def head_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` split and checked; anything else is a ``ClusterError`` naming it."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(
            f"--ray {address!r}: expected 'auto', 'local' or HOST:PORT of a Ray head"
        )
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at the head's port (Ray would retry for minutes)."""
    host, port = head_address(address)
    try:
        with socket.create_connection((host, port), timeout=REACH_SECONDS):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {reason}") from exc


@contextlib.contextmanager
def connect(address: str, num_cpus: int | None = None) -> Iterator[None]:
    """Join the cluster at ``address`` for the block's duration, then leave it.

    ``local`` starts a cluster of this machine (``num_cpus`` cores, default all)
    bound to 127.0.0.1 without a dashboard, and stops it on exit; ``auto`` joins
    the cluster ``ray start`` left on this machine or ``RAY_ADDRESS`` names.
    """
    ray = _import_ray()
    # Workers' and raylets' output stays in the cluster's log folder; a failed task
    # still raises here.
    options = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == LOCAL:
            ray.init(_node_ip_address="127.0.0.1", num_cpus=num_cpus, **options)
        else:
            if address != AUTO:
                _check_reachable(address)
            ray.init(address=address, **options)
    except ClusterError:
        raise
    except Exception as exc:  # Ray raises ConnectionError, ValueError, RuntimeError alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {first}") from exc
    try:
        yield
    finally:
        ray.shutdown()
