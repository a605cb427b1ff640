"""The project's guard rails, run by the test command: ruff (lint and import order), mypy, and the
import-linter contracts of docs/architecture.md's layers, all configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def _run(*command: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_ruff_finds_nothing_in_the_package():
    found = _run(str(BIN / "ruff"), "check", "--no-cache", "airad")
    assert found.returncode == 0, found.stdout[-6000:] + found.stderr[-2000:]


@pytest.mark.timeout(900)
def test_mypy_finds_no_type_error_in_the_package():
    """With mypy's own cache (.mypy_cache, which git ignores): a fresh clone checks everything (~30 s),
    a later run only what changed (~3 s). mypy keys its cache on each file's content and options."""
    found = _run(str(BIN / "mypy"), timeout=900)
    assert found.returncode == 0, found.stdout[-6000:] + found.stderr[-2000:]


def test_every_module_keeps_the_import_contracts():
    found = _run(str(BIN / "lint-imports"), "--no-cache")
    assert found.returncode == 0, found.stdout[-6000:] + found.stderr[-2000:]
    assert "0 broken" in found.stdout and "2 kept" in found.stdout, found.stdout
