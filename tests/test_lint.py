"""ruff's lint rules (pyproject.toml [tool.ruff]) hold for the whole tree: run by the one test
command, so CI checks them too. Skipped where ruff is not installed (it is a test extra)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff") or (str(Path(sys.executable).parent / "ruff") if (Path(sys.executable).parent / "ruff").exists() else None)
    if ruff is None:
        pytest.skip("ruff is not installed (pip install 'maskwatch[test]')")
    out = subprocess.run([ruff, "check", "src", "tests", "benchmarks", "scripts"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
