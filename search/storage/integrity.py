"""Checksums of a generation's files, and the checks that read them.

Every file of a generation is listed with its size and SHA-256 in
``checksums.json``, written before the generation is published. Opening a
generation checks what is cheap (every listed file is there with its size); the
generation's parts check themselves as they load (see ``open_part``); and
``news-search check`` reads every byte. A problem is one ``IndexDamaged`` error
naming the file, never a traceback and never a quietly different ranking.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from search.errors import IndexDamaged, SearchError

CHECKSUMS_FILE = "checksums.json"
_CHUNK = 1 << 20
T = TypeVar("T")


def _files(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder):
        for name in sorted(names):
            path = Path(root) / name
            if path.name != CHECKSUMS_FILE and not path.name.endswith("LOCK"):
                yield path


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksums(folder: Path, base: Path | None = None) -> None:
    """List every file of ``folder`` with its size and SHA-256.

    A file that is a hard link of the same file in ``base`` (the Whoosh files a
    write copied) takes ``base``'s entry instead of being read again.
    """
    known = _listed(base) if base is not None else {}
    files: dict[str, dict[str, int | str]] = {}
    for path in _files(folder):
        name = path.relative_to(folder).as_posix()
        entry = known.get(name)
        if entry is None or base is None or not _same_file(path, base / name):
            entry = {"size": path.stat().st_size, "sha256": _digest(path)}
        files[name] = entry
    tmp = folder / f"{CHECKSUMS_FILE}.tmp"
    tmp.write_text(json.dumps({"files": files}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, folder / CHECKSUMS_FILE)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _listed(folder: Path) -> dict[str, dict[str, int | str]]:
    """The checksums of ``folder``; empty for a generation written before they existed."""
    path = folder / CHECKSUMS_FILE
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexDamaged(f"{path}: unreadable checksums ({exc})") from exc
    if not isinstance(files, dict):
        raise IndexDamaged(f"{path}: unreadable checksums (no file list)")
    return files


def check_sizes(folder: Path) -> None:
    """Every listed file is there with the size it was written with (cheap, on open)."""
    for name, entry in _listed(folder).items():
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexDamaged(f"{path}: missing (listed in {CHECKSUMS_FILE})") from None
        if size != entry.get("size"):
            raise IndexDamaged(
                f"{path}: {size:,} bytes, but {entry.get('size'):,} were written (truncated?)"
            )


def check_contents(folder: Path) -> list[str]:
    """Every listed file read whole against its checksum; the problems, one line each."""
    problems = []
    for name, entry in _listed(folder).items():
        path = folder / name
        try:
            if path.stat().st_size != entry.get("size"):
                problems.append(f"{path}: size differs from what was written")
            elif _digest(path) != entry.get("sha256"):
                problems.append(f"{path}: contents differ from what was written")
        except FileNotFoundError:
            problems.append(f"{path}: missing (listed in {CHECKSUMS_FILE})")
        except OSError as exc:
            problems.append(f"{path}: unreadable ({exc.strerror or exc})")
    return problems


def open_part(generation: Path, part: Path, load: Callable[[], T]) -> T:
    """``load()`` of ``part``; any failure is reported as damage, naming the file."""
    try:
        return load()
    except SearchError:
        raise
    except Exception as exc:  # a garbled file fails in many library-specific ways
        raise damage(generation, part, exc) from exc


def damage(generation: Path, part: Path, exc: Exception) -> IndexDamaged:
    """The error for a part of ``generation`` that failed to load.

    The checksums name the file that changed when they can (a Whoosh segment fails
    as "the lexical index"); otherwise ``part`` is named with the library's reason.
    """
    problems = check_contents(generation)
    if problems:
        return IndexDamaged(problems[0])
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return IndexDamaged(f"{part}: cannot be read ({reason})")
