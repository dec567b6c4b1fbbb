"""The index folder: generations, the CURRENT pointer, reader leases and the writer lock.

Layout::

    index/
      CURRENT            name of the live generation, replaced atomically
      writer.lock        held (flock) by the one process that writes
      gen-000003/        manifest.json, lexical/ (Whoosh), vectors.faiss, vectors.json

A published generation is never modified. Every write (a rebuild, an add, a delete)
fills a new generation beside the live one and switches CURRENT with one
``os.replace``, so a reader sees the old generation or the new one, never a half,
and a crash at any point leaves the old one live. Readers hold a shared ``flock`` on
the generation folder they use (a lease); cleanup deletes only generations that are
neither live nor leased, so a request still running on the previous generation
keeps its files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from search.errors import IndexDamaged, IndexNotBuilt, StorageError, WriterBusy

CURRENT_FILE = "CURRENT"
LOCK_FILE = "writer.lock"
GENERATION_PREFIX = "gen-"
LEXICAL_DIR = "lexical"
# Whoosh's own writer lock (MAIN_WRITELOCK) is skipped when a generation is copied: a
# hard link would share its inode, and so its flock, between two generations.
_WHOOSH_LOCK_SUFFIX = "LOCK"
# How often ``lease_current`` re-reads CURRENT when writers keep switching under it.
_LEASE_ATTEMPTS = 20
# What CURRENT may name: a generation folder inside the index folder, nothing else.
_GENERATION_NAME = re.compile(r"gen-[0-9]{6,}")
# How often a writer waiting for the lock tries again.
_LOCK_POLL_SECONDS = 0.1


class Lease:
    """A shared hold on one generation folder: cleanup keeps the folder while it lasts.

    The hold is a ``flock(LOCK_SH)`` on the folder itself. It ends on ``release()`` or
    when the lease is garbage-collected, so an in-flight request that still holds the
    generation object (and with it the lease) keeps that generation on disk.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.name = path.name
        self._release = weakref.finalize(self, os.close, fd)

    def release(self) -> None:
        self._release()


def _open_folder(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None


class IndexFolder:
    """One index folder on disk and the generations inside it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writing = False

    # -- reading -----------------------------------------------------------------------

    def live_name(self) -> str:
        """The name CURRENT holds, without checking that the folder exists.

        Only a generation inside this folder is accepted: CURRENT never leads a
        reader to another place on the disk.
        """
        try:
            name = (self.path / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise IndexNotBuilt(
                f"{self.path}: no index built here yet; run `news-search rebuild`"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexDamaged(f"{self.path / CURRENT_FILE}: unreadable ({exc})") from exc
        if not _GENERATION_NAME.fullmatch(name):
            raise IndexDamaged(
                f"{self.path / CURRENT_FILE}: names {name[:80]!r}, not a generation of this folder"
            )
        return name

    def current_name(self) -> str:
        name = self.live_name()
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

    def lease(self, name: str) -> Lease | None:
        """Hold generation ``name`` for reading; None when it is gone (or being deleted).

        Cleanup deletes a folder while holding an exclusive lock on it, so once the
        shared lock is granted the folder either still stands (and now stays) or was
        deleted meanwhile, which the inode check tells.
        """
        path = self.path / name
        fd = _open_folder(path)
        if fd is None:
            return None
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            alive = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            alive = False
        if not alive:
            os.close(fd)
            return None
        return Lease(path, fd)

    def lease_current(self) -> Lease:
        """Hold the live generation, re-reading CURRENT when a writer switched meanwhile."""
        for _attempt in range(_LEASE_ATTEMPTS):
            name = self.live_name()
            lease = self.lease(name)
            if lease is not None:
                return lease
            if self.live_name() == name:
                break  # CURRENT still names it, so it is missing, not just replaced
        raise IndexNotBuilt(f"{self.path}: CURRENT names {name!r}, which is missing")

    # -- writing (only while holding ``writer_lock``) ----------------------------------

    def new_generation(self, base: Path | None = None) -> Path:
        """Create the folder for the next generation (numbered past every existing one).

        With ``base``, the new generation starts as a copy of every file of ``base``,
        made of hard links: a write then replaces the files of the shards it touches
        (Whoosh never rewrites a file in place: new segments, a new TOC, deletions
        recorded in the TOC; every other file is written beside its name and
        renamed over it), so every file of ``base`` stays as it was, and the shards
        a write does not touch cost no bytes.
        """
        self._check_writing()
        self.path.mkdir(parents=True, exist_ok=True)
        numbers = [
            int(name[len(GENERATION_PREFIX) :])
            for name in self.generations()
            if name[len(GENERATION_PREFIX) :].isdigit()
        ]
        folder = self.path / f"{GENERATION_PREFIX}{max(numbers, default=0) + 1:06d}"
        folder.mkdir()
        if base is not None:
            for root, _dirs, files in os.walk(base):
                into = folder / Path(root).relative_to(base)
                into.mkdir(exist_ok=True)
                for name in files:
                    if not name.endswith(_WHOOSH_LOCK_SUFFIX):
                        _link_or_copy(Path(root) / name, into / name)
        return folder

    def switch_to(self, generation: Path) -> None:
        """Make the finished ``generation`` the live one in one atomic step.

        Its files are flushed to disk first, so after a power cut CURRENT never
        names a generation whose data was still in the page cache.
        """
        self._check_writing()
        _sync_tree(generation)
        tmp = self.path / f"{CURRENT_FILE}.tmp"
        tmp.write_text(generation.name + "\n", encoding="utf-8")
        _fsync_path(tmp)
        os.replace(tmp, self.path / CURRENT_FILE)
        _fsync_path(self.path)

    def remove_stale(self) -> list[str]:
        """Delete every generation that is neither live nor leased; return their names.

        This removes superseded generations once their readers have moved on, and
        the half-built folder a killed writer left behind. A generation still leased
        stays until a later cleanup finds it free.
        """
        self._check_writing()
        live = self.live_name()
        removed = []
        for name in self.generations():
            if name == live:
                continue
            fd = _open_folder(self.path / name)
            if fd is None:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                shutil.rmtree(self.path / name, ignore_errors=True)
                removed.append(name)
            finally:
                os.close(fd)
        return removed

    def _check_writing(self) -> None:
        if not self._writing:
            raise RuntimeError("changing generations needs the writer lock")

    @contextlib.contextmanager
    def writer_lock(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the single-writer lock, waiting up to ``wait`` seconds for it.

        A writer that does not get it in time fails, naming the holder. The lock is
        an ``flock``, so the kernel drops it when its holder dies: a killed writer
        never leaves the index locked. The file records the holder's pid and host,
        never its arguments (they may hold secrets), and is readable by its owner only.
        An OS error while the lock is held (a full disk) becomes a ``StorageError``.
        """
        with storage_errors(self.path):
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            os.fchmod(fd, 0o600)  # a lock file written by an older version was 0644
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            self._acquire(handle, wait)
            with contextlib.suppress(OSError):  # the record is a courtesy, the flock is the lock
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
                handle.flush()
            self._writing = True
            try:
                with storage_errors(self.path):
                    yield
            finally:
                self._writing = False
        finally:
            handle.close()

    def _acquire(self, handle: TextIO, wait: float) -> None:
        fd = handle.fileno()
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = _describe_holder(handle.read())
                    waited = f" after waiting {wait:g}s" if wait else ""
                    raise WriterBusy(
                        f"{self.path} is being written by {holder}{waited}; try again when it "
                        "has finished (or wait for it with --wait SECONDS)"
                    ) from exc
            time.sleep(_LOCK_POLL_SECONDS)


@contextlib.contextmanager
def storage_errors(path: Path) -> Iterator[None]:
    """Turn an OS error of a write into one ``StorageError`` line (a full disk says so).

    FAISS reports a failed write as a ``RuntimeError`` ("write error in ... (No space
    left on device)"), so that one is translated too.
    """
    try:
        yield
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        raise _storage_error(path, full, exc.strerror or str(exc)) from exc
    except RuntimeError as exc:
        if "write error" not in str(exc):
            raise
        full = os.strerror(errno.ENOSPC) in str(exc)
        raise _storage_error(path, full, "a write failed") from exc


def _storage_error(path: Path, full: bool, reason: str) -> StorageError:
    return StorageError(
        f"cannot write the index in {path}: {'the disk is full' if full else reason}; "
        "the previous version is unchanged",
        disk_full=full,
    )


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            _fsync_path(Path(root) / name)
        _fsync_path(Path(root))
