"""Door lines and zones from their command-line texts (`--line NAME=x1,y1,x2,y2`, `--zone NAME=...`)."""

from __future__ import annotations


def place_counters(lines: list[str], zones: list[str], labels=None) -> list:
    """Line and zone counters from --line / --zone texts (names unique per kind); one-line errors."""
    from ..types import LABELS
    from .lines import LineCounter, parse_points
    from .zones import ZoneCounter

    out, names = [], set()
    for kind, specs, cls, least, most in (("line", lines, LineCounter, 2, 2), ("zone", zones, ZoneCounter, 3, None)):
        for spec in specs:
            name, points = parse_points(spec, kind, least, most)
            if (kind, name) in names:
                raise ValueError(f"--{kind} {name} is given twice: give each {kind} its own name")
            names.add((kind, name))
            out.append(cls(name, points, labels or LABELS))
    return out
