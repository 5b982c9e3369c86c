"""The command line: every stable command exists, and the bootstrap script behaves as the README says."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import PROJECT_ROOT
from pava.cli import app
from pava.stack.sample import file_count

STABLE_COMMANDS = ("ingest", "status", "wait", "export", "worker", "requeue", "similar", "relay", "up",
                   "down", "config", "migrate", "sample")

runner = CliRunner()


def test_every_stable_command_is_listed() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in STABLE_COMMANDS:
        assert f" {name} " in result.output, f"`pava {name}` is missing from `pava --help`"


@pytest.mark.parametrize("name", STABLE_COMMANDS)
def test_every_stable_command_has_help(name: str) -> None:
    result = runner.invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output


def test_stable_options_exist() -> None:
    expected = {
        "ingest": ("--watch", "--source", "--json"),
        "status": ("--json",),
        "wait": ("--timeout",),
        "export": ("--jsonl",),
        "worker": ("--concurrency",),
        "requeue": ("--missing", "--failed", "--all"),
        "up": ("--timeout", "--no-ingest", "--json"),
    }
    for name, options in expected.items():
        output = runner.invoke(app, [name, "--help"], terminal_width=200).output
        for option in options:
            assert option in output, f"`pava {name}` lacks {option}"


def test_sample_writes_the_set_once(tmp_path: Path) -> None:
    first = runner.invoke(app, ["sample", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert f"{file_count()} files written" in first.output
    again = runner.invoke(app, ["sample", str(tmp_path)])
    assert again.exit_code == 0
    assert "0 files written" in again.output


def test_down_without_a_stack_stops_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAVA_")}
    env["PAVA_HOME"] = str(tmp_path / "var")
    result = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "python"), "-m", "pava", "down"], env=env,
                            capture_output=True, text=True, check=False, cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "stopped: nothing" in result.stdout


def _bootstrap(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAVA_")}
    return subprocess.run([str(PROJECT_ROOT / "pava.sh"), *args], env=env, capture_output=True, text=True,
                          check=False, cwd=PROJECT_ROOT, timeout=600)


def test_bootstrap_script_is_valid_bash_and_strict() -> None:
    script = (PROJECT_ROOT / "pava.sh").read_text()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    subprocess.run(["bash", "-n", str(PROJECT_ROOT / "pava.sh")], check=True)
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in ci and "pava.sh test" in ci


def test_bootstrap_runs_pava_from_the_venv_and_installs_only_once() -> None:
    first = _bootstrap("--help")
    assert first.returncode == 0, first.stderr
    assert "sample" in first.stdout
    # Whatever the first call had to do, the second finds everything in place.
    second = _bootstrap("--help")
    assert second.returncode == 0, second.stderr
    assert "installing" not in second.stderr


def test_bootstrap_test_counts_no_tests_collected_as_failure() -> None:
    result = _bootstrap("test", "-q", "-p", "no:cacheprovider", "tests/test_cli.py",
                        "-k", "no_test_has_this_name")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no tests" in result.stderr
