"""Every `maskwatch ...` command the README and model card show parses with today's CLI (options
and verbs that exist, values of the right type): docs that drift from the code fail here."""

import re
import shlex
from pathlib import Path

import pytest

from maskwatch.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "src" / "maskwatch" / "models" / "MODEL_CARD.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands():
    for doc in DOCS:
        text = doc.read_text()
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
            joined = re.sub(r"\\\n\s*", " ", block)  # continuation lines
            for line in joined.splitlines():
                line = line.split("  #")[0].strip()
                for part in re.split(r"\s*&&\s*|\s*\|\s*", line):
                    part = re.sub(r"^(\S+=\S+\s+)+", "", part.strip())  # VAR=value prefixes
                    part = re.sub(r"^(\.venv/bin/)", "", part)
                    if part.startswith("maskwatch "):
                        yield doc.name, part


COMMANDS = list(_commands())


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("doc,command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_documented_command_parses(doc, command):
    args = shlex.split(command.replace("$D", "data"))[1:]
    build_parser().parse_args(args)  # argparse exits (a failure here) on anything unknown or malformed


@pytest.mark.parametrize("verb", sorted({c.split()[1] for _, c in COMMANDS}))
def test_help_of_each_documented_verb(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([verb, "--help"])
    assert exc.value.code == 0 and f"maskwatch {verb}" in capsys.readouterr().out
