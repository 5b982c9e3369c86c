"""Helpers shared by tests: running the real ``pava`` command in a subprocess with a test's settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.settings import PROJECT_ROOT, Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAVA_")}
    env.update({
        "PAVA_ENV": settings.env,
        "PAVA_HOME": str(settings.home),
        "PAVA_STORAGE_ROOT": str(settings.storage_root),
        "PAVA_DROP_DIR": str(settings.drop_dir),
        "PAVA_DATABASE_URL": settings.require_database_url(),
        "PAVA_AMQP_URL": settings.require_amqp_url(),
    })
    # Every nested settings group, so that a new analysis's settings reach child processes too.
    for group, field in type(settings).model_fields.items():
        if not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            continue
        for key, value in getattr(settings, group).model_dump(mode="json").items():
            if value is None:
                continue
            env[f"PAVA_{group.upper()}__{key.upper()}"] = (
                json.dumps(value) if isinstance(value, list | dict) else str(value)
            )
    return env


def pava_command(*args: str) -> list[str]:
    """The argv that runs the ``pava`` command line with this interpreter."""
    return [sys.executable, "-m", "pava", *args]


def run_pava(settings: Settings, *args: str, timeout: float = 300, check: bool = True,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings)
    if extra_env:
        env.update(extra_env)
    return subprocess.run(pava_command(*args), env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=check)


def popen_pava(settings: Settings, *args: str, extra_env: dict[str, str] | None = None,
               **kwargs: Any) -> subprocess.Popen[str]:
    env = settings_env(settings)
    if extra_env:
        env.update(extra_env)
    return subprocess.Popen(pava_command(*args), env=env, cwd=PROJECT_ROOT, text=True, **kwargs)


def tree_files(root: Path) -> set[str]:
    """Relative paths of every entry (files and symlinks) under ``root``."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}
