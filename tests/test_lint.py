"""ruff's lint rules and formatting (pyproject.toml [tool.ruff]) hold for the whole tree: run by the
one test command, so CI checks them too. Skipped where ruff is not installed (it is a test extra)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


TREE = ["src", "tests", "benchmarks", "scripts"]


def _ruff() -> str:
    local = Path(sys.executable).parent / "ruff"
    ruff = shutil.which("ruff") or (str(local) if local.exists() else None)
    if ruff is None:
        pytest.skip("ruff is not installed (pip install 'maskwatch[test]')")
    return ruff


def test_ruff_check_is_clean():
    out = subprocess.run([_ruff(), "check", *TREE], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


def test_ruff_format_is_applied():
    out = subprocess.run([_ruff(), "format", "--check", *TREE], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, "run `ruff format .`:\n" + out.stdout[-3000:]
