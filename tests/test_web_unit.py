"""The web page's own checks, run by pytest so CI covers them: `npm ci` (only when node_modules is missing
or the lock changed), the TypeScript type check, the Vitest unit tests of the page's logic, and a
production build (into a temporary folder, so a running nginx keeps serving web/dist untouched).

Node.js and npm come from the machine (/usr/bin/node, /usr/bin/npm); packages from the npm registry as
pinned in web/package-lock.json. When CI=true a missing Node.js fails instead of skipping.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT

WEB = PROJECT_ROOT / "web"
LOCK = WEB / "package-lock.json"
# The lock that node_modules was installed from: the same stamp, written the same way, as the stack's page
# build (pava/stack/page.py), so neither reinstalls what the other just installed.
STAMP = WEB / "node_modules" / ".pava-lock.sha256"
IN_CI = os.environ.get("CI", "").lower() == "true"

pytestmark = pytest.mark.slow


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        if IN_CI:
            pytest.fail("Node.js and npm are needed for the web page's checks (Debian: nodejs, npm)")
        pytest.skip("Node.js/npm not installed")
    return npm


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", "npm_config_update_notifier": "false",
           "npm_config_fund": "false", "npm_config_audit": "false"}
    return subprocess.run(args, cwd=WEB, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _check(result: subprocess.CompletedProcess[str], what: str) -> str:
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"{what} failed with exit code {result.returncode}:\n{output[-12000:]}"
    return output


def _lock_digest() -> str:
    digest = hashlib.sha256()
    digest.update(b"package-lock.json\0" + LOCK.read_bytes() + b"\0")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def npm() -> Iterator[str]:
    """npm, with web/node_modules installed from the lock (npm ci only when needed)."""
    npm = _npm()
    digest = _lock_digest()
    # `pava up` builds the page under the same lock: npm ci must not empty node_modules under its feet.
    with (WEB / "package.json").open("rb") as anchor:
        fcntl.flock(anchor, fcntl.LOCK_EX)
        if not STAMP.exists() or STAMP.read_text().strip() != digest:
            _check(_run([npm, "ci", "--no-audit", "--no-fund"], timeout=540), "npm ci")
            STAMP.write_text(digest + "\n")
    yield npm


def test_lock_pins_every_package_by_hash_and_no_address() -> None:
    """Every package is pinned by version and integrity hash and comes from the configured registry:
    web/.npmrc keeps download addresses out of the lock (no tarball URL, git or file dependency)."""
    import json

    lock = json.loads(LOCK.read_text())
    assert lock["lockfileVersion"] >= 3
    for path, meta in lock["packages"].items():
        if not path:
            continue
        pinned = meta.get("version") and meta.get("integrity", "").startswith("sha512-")
        assert pinned, f"{path} is not pinned"
        assert "resolved" not in meta, f"{path} names a download address: {meta['resolved']}"


def test_typecheck(npm: str) -> None:
    _check(_run([npm, "run", "typecheck"], timeout=540), "npm run typecheck")


def test_unit_tests(npm: str) -> None:
    output = _check(_run([npm, "run", "test"], timeout=300), "npm run test (vitest)")
    assert " passed" in output, output[-4000:]


def test_build(npm: str, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build = _run([npm, "run", "build", "--", "--outDir", str(out), "--emptyOutDir"], timeout=300)
    _check(build, "npm run build")
    index = (out / "index.html").read_text()
    assert '<div id="root">' in index
    assert (out / "config.json").is_file(), "the runtime config ships with the page"
    scripts = list((out / "assets").glob("*.js"))
    assert scripts, "no JavaScript was built"
    # No CDN at run time: the built page names no other host for its scripts and styles.
    assert "https://" not in index and "http://" not in index


def test_the_committed_api_types_match_the_api(npm: str, tmp_path: Path) -> None:
    """web/src/api/schema.d.ts is generated from the API's OpenAPI document: a route or model changed
    without regenerating it (`npm run openapi` in web/) would let the type check pass on stale types."""
    out = tmp_path / "schema.d.ts"
    env = {**os.environ, "OPENAPI_TS_OUT": str(out)}
    result = subprocess.run(["node", "scripts/openapi.mjs"], cwd=WEB, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    _check(result, "node scripts/openapi.mjs")
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text()
    assert out.read_text() == committed, "web/src/api/schema.d.ts is stale: run `npm run openapi` in web/"
