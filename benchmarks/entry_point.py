"""The `maskwatch` command as a user runs it, for the benchmarks that time it from outside."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def maskwatch_command() -> list[str]:
    """The entry point beside this Python (a venv need not be on PATH), else the one on PATH,
    else `python -m maskwatch.cli`."""
    beside = Path(sys.executable).with_name("maskwatch")
    found = str(beside) if beside.exists() else shutil.which("maskwatch")
    return [found] if found else [sys.executable, "-m", "maskwatch.cli"]
