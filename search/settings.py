"""Typed settings shared by the CLI and the web app; read from the environment on request.

Nothing reads the environment at import time: ``Settings.from_env()`` is called by
whoever starts the program, and explicit arguments (CLI options) override it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

ENV_PREFIX = "NEWS_SEARCH_"


@dataclass(frozen=True)
class Settings:
    """Where the index lives, which model to expect, who may write and read over HTTP,
    and whether requests (with their queries) are logged."""

    index: Path = Path("index")
    model: str | None = None
    api_key: str | None = None
    # Origins whose browsers may call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # None: reads are open to anyone who reaches the server (the documented default).
    read_key: str | None = None
    query_log: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            index=Path(env.get(f"{ENV_PREFIX}INDEX", "index")),
            model=env.get(f"{ENV_PREFIX}MODEL") or None,
            api_key=env.get(f"{ENV_PREFIX}API_KEY") or None,
            cors_origins=tuple(env.get(f"{ENV_PREFIX}CORS_ORIGINS", "").split()),
            read_key=env.get(f"{ENV_PREFIX}READ_KEY") or None,
            query_log=env.get(f"{ENV_PREFIX}QUERY_LOG", "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes ``from_env`` return these settings (for a child server)."""
        env = {f"{ENV_PREFIX}INDEX": str(self.index)}
        if self.model:
            env[f"{ENV_PREFIX}MODEL"] = self.model
        if self.api_key:
            env[f"{ENV_PREFIX}API_KEY"] = self.api_key
        if self.cors_origins:
            env[f"{ENV_PREFIX}CORS_ORIGINS"] = " ".join(self.cors_origins)
        if self.read_key:
            env[f"{ENV_PREFIX}READ_KEY"] = self.read_key
        env[f"{ENV_PREFIX}QUERY_LOG"] = "1" if self.query_log else "0"
        return env

    def with_overrides(self, **changes: object) -> Settings:
        """These settings with every non-None keyword replacing its field."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
