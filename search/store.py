"""The index folder: generations, the CURRENT pointer and the writer lock.

Layout::

    index/
      CURRENT            name of the live generation, replaced atomically
      writer.lock        held (flock) by the one process that writes
      gen-000003/        manifest.json, lexical/ (Whoosh), vectors.faiss, vectors.json

A rebuild fills a new generation beside the live one and switches CURRENT with one
``os.replace``; readers either see the old generation or the new one, never a half.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from search.errors import IndexNotBuilt, WriterBusy

CURRENT_FILE = "CURRENT"
LOCK_FILE = "writer.lock"
GENERATION_PREFIX = "gen-"


class IndexFolder:
    """One index folder on disk and the generations inside it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def current_name(self) -> str:
        try:
            name = (self.path / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise IndexNotBuilt(
                f"{self.path}: no index built here yet; run `news-search rebuild`"
            ) from exc
        if not (self.path / name).is_dir():
            raise IndexNotBuilt(f"{self.path}: CURRENT names {name!r}, which is missing")
        return name

    def current(self) -> Path:
        return self.path / self.current_name()

    def generations(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(
            p.name
            for p in self.path.iterdir()
            if p.is_dir() and p.name.startswith(GENERATION_PREFIX)
        )

    def new_generation(self) -> Path:
        """Create an empty folder for the next generation (numbered past every existing one)."""
        self.path.mkdir(parents=True, exist_ok=True)
        numbers = [
            int(name[len(GENERATION_PREFIX) :])
            for name in self.generations()
            if name[len(GENERATION_PREFIX) :].isdigit()
        ]
        folder = self.path / f"{GENERATION_PREFIX}{max(numbers, default=0) + 1:06d}"
        folder.mkdir()
        return folder

    def switch_to(self, generation: Path) -> None:
        """Make ``generation`` the live one in one atomic step, then drop the older ones."""
        tmp = self.path / f"{CURRENT_FILE}.tmp"
        tmp.write_text(generation.name + "\n", encoding="utf-8")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path / CURRENT_FILE)
        self.remove_stale(keep=generation.name)

    def remove_stale(self, keep: str) -> None:
        """Delete every generation but ``keep``.

        A server still reading an old generation keeps working: on POSIX its open
        files stay readable after the unlink, and it moves to CURRENT on its next request.
        """
        for name in self.generations():
            if name != keep:
                shutil.rmtree(self.path / name, ignore_errors=True)

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the single-writer lock; a second writer fails at once, naming the holder."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise WriterBusy(
                    f"{self.path} is being written by {holder}; try again when it has finished"
                ) from exc
            handle.seek(0)
            handle.truncate()
            handle.write(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "command": " ".join(sys.argv[:3]),
                    }
                )
            )
            handle.flush()
            yield
        finally:
            handle.close()
