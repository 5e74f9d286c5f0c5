"""Split kaggle-853 `train` into `fit` and `holdout` parts, for choices that must not look at `test`.

Used to decide how the detector's mask head and the crop classifier combine: train on `fit`,
compare on `holdout`, then retrain on all of `train`. Photos are assigned by a hash of their
near-duplicate group (the pairs listed in ../shared/data/README.md stay together), as split.json does.

    python scripts/holdout_split.py ../shared/data/kaggle-853/split.json holdout_split.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

# Near-duplicate pairs of maksssksksssN inside kaggle-853 (../shared/data/README.md).
NEAR_DUPLICATES = [
    (13, 737),
    (61, 451),
    (74, 354),
    (146, 219),
    (156, 545),
    (287, 478),
    (291, 405),
    (293, 466),
    (327, 699),
    (369, 491),
    (410, 428),
    (435, 554),
    (514, 680),
    (653, 775),
    (656, 690),
    (662, 839),
    (665, 704),
]


def group_of(name: str) -> str:
    m = re.search(r"(\d+)", name)
    if not m:
        return name
    n = int(m.group(1))
    for a, b in NEAR_DUPLICATES:
        if n in (a, b):
            return f"pair{a}"
    return f"img{n}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("split", help="kaggle-853 split.json")
    ap.add_argument("out", help="split file to write, with parts fit and holdout")
    ap.add_argument("--percent", type=int, default=25, help="share of train groups held out (default: %(default)s)")
    args = ap.parse_args()
    train = json.loads(Path(args.split).read_text())["train"]
    hold = [f for f in train if int(hashlib.sha256(f"holdout-{group_of(f)}".encode()).hexdigest(), 16) % 100 < args.percent]
    fit = [f for f in train if f not in set(hold)]
    about = f"kaggle-853 train split into fit/holdout by {Path(__file__).name}; test is not used."
    Path(args.out).write_text(json.dumps({"about": about, "fit": fit, "holdout": hold}, indent=0))
    print(f"fit {len(fit)} photos, holdout {len(hold)} photos -> {args.out}")


if __name__ == "__main__":
    main()
