"""Architecture rules that code review alone would let slip."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import REPO


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_engine_never_imports_web_code() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & {"api", "fastapi", "starlette"})
        for path in (REPO / "search").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_built_indexes_are_not_committed() -> None:
    ignore = (REPO / ".gitignore").read_text(encoding="utf-8")
    assert "/index/*" in ignore and "!/index/README.md" in ignore


def test_only_the_cluster_package_imports_ray() -> None:
    offenders = sorted(
        str(path.relative_to(REPO))
        for path in [*(REPO / "search").rglob("*.py"), *(REPO / "api").rglob("*.py")]
        if "ray" in _imports(path) and (REPO / "search" / "cluster") not in path.parents
    )
    assert offenders == []
