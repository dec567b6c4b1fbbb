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
    """Where the index lives, which model to expect, and who may write over HTTP."""

    index: Path = Path("index")
    model: str | None = None
    api_key: str | None = None
    # Origins whose browsers may call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            index=Path(env.get(f"{ENV_PREFIX}INDEX", "index")),
            model=env.get(f"{ENV_PREFIX}MODEL") or None,
            api_key=env.get(f"{ENV_PREFIX}API_KEY") or None,
            cors_origins=tuple(env.get(f"{ENV_PREFIX}CORS_ORIGINS", "").split()),
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
        return env

    def with_overrides(self, **changes: object) -> Settings:
        """These settings with every non-None keyword replacing its field."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
