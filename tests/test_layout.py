"""tests/README.md names the tests of every module in src/maskwatch, and only test files that exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_module_has_a_row_and_every_named_test_file_exists():
    text = (ROOT / "tests" / "README.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    listed = {m for row in rows for m in re.findall(r"`([\w.]+)`", row.split("|")[1])}
    src = ROOT / "src" / "maskwatch"
    modules = {".".join(p.relative_to(src).with_suffix("").parts) for p in src.rglob("*.py") if p.name != "__init__.py"}
    assert modules - listed == set(), "modules without a row in tests/README.md"
    assert listed - modules == set(), "rows for modules that no longer exist"
    for name in set(re.findall(r"`(test_\w+\.py)`", text)):
        assert (ROOT / "tests" / name).is_file(), name
