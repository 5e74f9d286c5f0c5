"""Files the user named: an input is never written to, and two outputs never share a file.

Checked before anything is opened or written, so a mistake costs nothing: `--out v.mp4` on
`--source v.mp4` used to leave 9 of 150 frames of the original, and two cameras with one `out`
wrote over each other. Paths are compared as the file system sees them (symlinks and `..`
resolved; an existing file also by inode, so a hard link is caught too).
"""

from __future__ import annotations

import os
from pathlib import Path


def _key(path: str) -> tuple:
    p = Path(path).expanduser()
    try:
        st = p.stat()
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(p))


def _keys(path: str) -> set:
    p = Path(path).expanduser()
    return {_key(path), ("path", os.path.realpath(p))}


def is_local_file(spec) -> bool:
    """A path (not a URL, a webcam index or stdout)."""
    s = str(spec)
    return bool(s) and s != "-" and not s.isdigit() and "://" not in s


def refuse_collisions(inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> None:
    """inputs and outputs: (what, path) pairs, e.g. ("camera 'door' source", "door.mp4"); a
    ValueError naming both when an output is an input, or two outputs are one file."""
    seen: dict = {}
    for what, path in inputs:
        if path and is_local_file(path):
            for k in _keys(path):
                seen.setdefault(k, ("input", what, path))
    for what, path in outputs:
        if not path or not is_local_file(path):
            continue
        for k in _keys(path):
            if k in seen:
                kind, other, other_path = seen[k]
                if kind == "input":
                    raise ValueError(f"{what} {path} is the input {other} {other_path}: it would be destroyed; write elsewhere")
                raise ValueError(f"{what} {path} is also {other} ({other_path}): give each output its own file")
        for k in _keys(path):
            seen[k] = ("output", what, path)
