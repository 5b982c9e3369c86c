"""The page build of `pava up` (pava/stack/page.py) with the real npm on a tiny page: built when its
sources change, left alone when they do not, and a clear reason (not a failed stack) without Node.js."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pava.stack import page

BUILD = ("node -e \"const f=require('fs');f.mkdirSync('dist',{recursive:true});"
         "f.writeFileSync('dist/index.html','<p>'+process.hrtime.bigint()+'</p>')\"")


@pytest.fixture
def web(tmp_path: Path) -> Path:
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build the web page (the machine's Node.js)")
    root = tmp_path / "web"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.ts").write_text("export const a = 1;\n")
    (root / "package.json").write_text(json.dumps({"name": "tiny", "version": "1.0.0", "private": True,
                                                   "scripts": {"build": BUILD}}))
    subprocess.run(["npm", "install", "--package-lock-only", "--no-audit", "--no-fund"], cwd=root, check=True,
                   capture_output=True, timeout=300)
    return root


def test_built_once_then_current_then_again_when_a_source_changes(web: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "log" / "web-build.log"
    first = page.ensure_built(log_file, web)
    assert first.status == "built", first
    html = (web / "dist" / "index.html").read_text()
    assert "$ npm ci" in log_file.read_text()
    assert page.ensure_built(log_file, web).status == "current"
    assert (web / "dist" / "index.html").read_text() == html

    (web / "src" / "main.ts").write_text("export const a = 2;\n")
    again = page.ensure_built(log_file, web)
    assert again.status == "built"
    assert (web / "dist" / "index.html").read_text() != html
    assert "$ npm ci" not in log_file.read_text()  # the lock did not change: no reinstall


def test_a_failing_build_is_reported_not_raised(web: Path, tmp_path: Path) -> None:
    manifest = json.loads((web / "package.json").read_text())
    manifest["scripts"]["build"] = "node -e \"process.exit(3)\""
    (web / "package.json").write_text(json.dumps(manifest))
    result = page.ensure_built(tmp_path / "web-build.log", web)
    assert result.status == "not_built" and "exit 3" in result.detail


def test_without_node_the_page_is_not_built_and_says_why(web: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = page.ensure_built(tmp_path / "web-build.log", web)
    assert result.status == "not_built" and "Node.js" in result.detail
    assert not (web / "dist").exists()


def test_no_web_folder_is_absent(tmp_path: Path) -> None:
    assert page.ensure_built(tmp_path / "log", tmp_path / "nothing").status == "absent"
