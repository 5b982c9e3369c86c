"""Helpers shared by tests: running the real ``pava`` command in a subprocess with a test's settings, and
inserting media rows and jobs straight into the database."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from core import db
from core.envelope import JobEnvelope
from core.media import MediaKind
from core.outbox import record_jobs
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
        group_settings = getattr(settings, group)
        for key, dumped in group_settings.model_dump(mode="json").items():
            if dumped is None:
                continue
            value = getattr(group_settings, key)
            # model_dump masks secrets as "**********": the child needs the real value.
            text = value.get_secret_value() if isinstance(value, SecretStr) else (
                json.dumps(dumped) if isinstance(dumped, list | dict) else str(dumped))
            env[f"PAVA_{group.upper()}__{key.upper()}"] = text
    return env


def pava_command(*args: str) -> list[str]:
    """The argv that runs the ``pava`` command line with this interpreter."""
    return [sys.executable, "-m", "pava", *args]


def run_pava(settings: Settings, *args: str, timeout: float = 300, check: bool = True,
             extra_env: dict[str, str] | None = None,
             input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``pava ARGS``; its standard input is ``input_text``, or empty (never the terminal's)."""
    env = settings_env(settings)
    if extra_env:
        env.update(extra_env)
    return subprocess.run(pava_command(*args), env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=check, input=input_text or "")


def popen_pava(settings: Settings, *args: str, extra_env: dict[str, str] | None = None,
               **kwargs: Any) -> subprocess.Popen[str]:
    env = settings_env(settings)
    if extra_env:
        env.update(extra_env)
    return subprocess.Popen(pava_command(*args), env=env, cwd=PROJECT_ROOT, text=True, **kwargs)


def tree_files(root: Path) -> set[str]:
    """Relative paths of every entry (files and symlinks) under ``root``."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def insert_media(conn: db.Connection, name: str, *, sha512: bytes, kind: MediaKind | str = MediaKind.PHOTO,
                 format: str | None = None, mime_type: str | None = None, size_bytes: int = 1,
                 storage_path: str | None = None, original_path: str | None = None,
                 status: str = "ready") -> int:
    """Insert one media row as ingest would leave it and return its id.

    ``storage_path`` defaults to ``originals/<name>`` and ``original_path`` to ``name``; ``format`` and
    ``mime_type`` default to JPEG for a photo and MP4 for a video. Nothing is written to disk.
    """
    kind = MediaKind(kind)
    video = kind is MediaKind.VIDEO
    row = conn.execute(
        """INSERT INTO media
               (sha512, status, kind, format, mime_type, size_bytes, storage_path, original_path)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (sha512, status, kind.value, format or ("mp4" if video else "jpeg"),
         mime_type or ("video/mp4" if video else "image/jpeg"), size_bytes,
         storage_path or f"originals/{name}", original_path or name),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def insert_media_for_file(conn: db.Connection, path: Path, *, kind: MediaKind | str = MediaKind.PHOTO,
                          **columns: Any) -> int:
    """:func:`insert_media` for an existing file: named after it, with its SHA-512 and size (at least 1)."""
    columns.setdefault("size_bytes", max(1, path.stat().st_size))
    digest = hashlib.sha512(path.read_bytes()).digest()
    return insert_media(conn, path.name, sha512=digest, kind=kind, **columns)


def stage_job(settings: Settings, source: Path, *, analyzer: str, kind: MediaKind = MediaKind.PHOTO,
              conn: db.Connection | None = None) -> JobEnvelope:
    """Copy ``source`` to ``originals/`` under the storage root, insert its media row, record one job of
    ``analyzer`` (with its outbox message) and return that job's envelope.

    Uses ``conn`` when given, otherwise a connection of its own that is closed on return.
    """
    rel = f"originals/{source.name}"
    target = settings.storage_root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    sha = hashlib.sha512(source.read_bytes()).hexdigest()
    with contextlib.ExitStack() as stack:
        if conn is None:
            conn = stack.enter_context(db.connect(settings))
        with conn.transaction():
            media_id = insert_media_for_file(conn, source, kind=kind)
            (job_id,) = record_jobs(conn, media_id=media_id, kind=kind, path=rel, sha512_hex=sha,
                                    analyses=[analyzer])
    return JobEnvelope(job_id=job_id, media_id=media_id, analyzer=analyzer, kind=kind, path=rel, sha512=sha)


def unescape_corpus_path(path: str) -> bytes:
    """A manifest path with \\xNN escapes back to the real bytes."""
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), path.encode())


def recreate_corpus_extras(manifest: dict[str, Any], corpus: Path, drop: Path) -> None:
    """What a read-only share cannot carry, made as the manifest describes: symlinks (stored on the share
    as files holding their target), and byte-identical copies (an empty file, a name that is not UTF-8,
    a folder named like a photo), made from the content they duplicate."""
    files: dict[str, Any] = manifest["files"]  # type: ignore[assignment]
    for rel, entry in files.items():
        if entry.get("is_symlink"):
            # The share stores these as small files holding the target: make them the symlinks they are.
            link = drop / rel
            link.unlink(missing_ok=True)
            link.symlink_to(entry["symlink_target"])
        for copy in entry.get("sha512_duplicates", []):
            target = os.path.join(os.fsencode(drop), unescape_corpus_path(copy))
            if os.path.lexists(target):
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write((corpus / rel).read_bytes() if entry.get("size_bytes") else b"")
