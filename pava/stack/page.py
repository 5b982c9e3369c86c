"""The web page for the stack's nginx: ``web/dist`` built from ``web/`` with npm when its sources changed.

A digest of the page's sources is kept beside the build (``web/dist/.pava-sources.sha256``), so a rerun of
``pava up`` costs one walk of ``web/src`` and builds nothing. ``npm ci`` runs only when the lock file
changed (``web/node_modules/.pava-lock.sha256``). A machine without a recent enough Node.js still gets
the whole stack: nginx serves its placeholder page (with a login form) and ``pava up`` says why.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

WEB = PROJECT_ROOT / "web"
# What the build reads: a change to any of these makes a new page.
SOURCES = ("package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json",
           "tsconfig.node.json", "src", "public")
SOURCES_STAMP = ".pava-sources.sha256"
LOCK_STAMP = ".pava-lock.sha256"
MIN_NODE = (20, 19)  # Vite 8's floor
BUILD_TIMEOUT = 1200


@dataclass
class PageBuild:
    """What happened to the page: built now, already current, or not built (and why)."""

    status: str  # built | current | not_built | absent
    detail: str = ""
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "seconds": round(self.seconds, 1)}


def _digest(web: Path, names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        root = web / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(web)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def node_problem() -> str | None:
    """Why the page cannot be built here, or None."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js and npm are not installed"
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                                 check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`node --version` failed: {exc}"
    match = re.match(r"v(\d+)\.(\d+)", version)
    if match is None or (int(match.group(1)), int(match.group(2))) < MIN_NODE:
        return f"Node.js {version} is too old (the page's build needs {MIN_NODE[0]}.{MIN_NODE[1]} or newer)"
    return None


def _stamp(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _npm(web: Path, log_file: Path, *args: str) -> None:
    with log_file.open("a") as out:
        out.write(f"\n$ npm {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(["npm", *args], cwd=web, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`npm {' '.join(args)}` failed (exit {result.returncode}); see {log_file}")


def ensure_built(log_file: Path, web: Path = WEB) -> PageBuild:
    """Build ``web/dist`` if its sources changed since the last build. Never raises for a build problem:
    the stack runs without the page (nginx's placeholder) and the answer says what went wrong."""
    if not (web / "package.json").is_file():
        return PageBuild("absent", "no web/ in this checkout")
    begin = time.monotonic()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # Two `pava up` (or a test and `pava up`) must not build into the same folder at once.
    with (web / "package.json").open("rb") as anchor:
        fcntl.flock(anchor, fcntl.LOCK_EX)
        sources = _digest(web, SOURCES)
        dist = web / "dist"
        if (dist / "index.html").is_file() and _stamp(dist / SOURCES_STAMP) == sources:
            return PageBuild("current", str(dist))
        problem = node_problem()
        if problem is not None:
            log.warning("the web page is not built: %s; nginx serves a placeholder", problem)
            return PageBuild("not_built", problem)
        log_file.write_text("")
        try:
            lock = _digest(web, ("package-lock.json",))
            modules = web / "node_modules"
            if _stamp(modules / LOCK_STAMP) != lock:
                log.info("installing the web page's packages (npm ci)")
                _npm(web, log_file, "ci", "--no-audit", "--no-fund")
                modules.mkdir(exist_ok=True)  # a page without dependencies gets none from npm ci
                (modules / LOCK_STAMP).write_text(lock + "\n")
            log.info("building the web page (npm run build)")
            _npm(web, log_file, "run", "build")
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            log.error("the web page did not build: %s", exc)
            return PageBuild("not_built", str(exc), time.monotonic() - begin)
        (dist / SOURCES_STAMP).write_text(sources + "\n")
        return PageBuild("built", str(dist), time.monotonic() - begin)
