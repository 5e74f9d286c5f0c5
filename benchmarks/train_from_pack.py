"""Train a classifier from a pack of crops (benchmarks/pack_samples.py), e.g. on a GPU machine that has the repository but not the data folders.

Takes the pack's crops, keeps the kaggle photos of one part of a split (--split/--part, e.g.
the fit part of benchmarks/holdout_split.py) and, without --synth-incorrect, drops the synthetic
ones; then runs the same engine as `maskwatch train` (its options below mean the same).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from maskwatch.train.data import Samples
from maskwatch.train.engine import TrainConfig, train

SYNTH_SUFFIX = ":synthetic-mask-below-nose"


def load_pack(path: str, split: str | None, part: str | None, synth: bool) -> tuple[Samples, list[str]]:
    z = np.load(path)
    names = [str(n) for n in z["names"]]
    keep = np.ones(len(names), bool)
    if not synth:
        keep &= ~np.array([n.endswith(SYNTH_SUFFIX) for n in names])
    if split:
        wanted = set(json.loads(Path(split).read_text())[part])
        # Kaggle crops are named "<image key>@x,y"; class-folder images keep their paths.
        keep &= np.array([("@" not in n) or (n.split("@")[0] in wanted) for n in names])
    idx = np.flatnonzero(keep)
    jpeg, off = z["jpeg"], z["offsets"]
    images = np.stack([cv2.imdecode(jpeg[off[i]:off[i + 1]], cv2.IMREAD_COLOR) for i in idx])
    s = Samples(images, z["labels"][idx], z["groups"][idx], [names[i] for i in idx], z["origins"][idx],
                tuple(str(c) for c in z["classes"]))
    return s, json.loads(str(z["data"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pack", required=True)
    ap.add_argument("--split")
    ap.add_argument("--part")
    ap.add_argument("--synth-incorrect", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--teacher")
    ap.add_argument("--distill-weight", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    samples, data = load_pack(args.pack, args.split, args.part, args.synth_incorrect)
    print(f"{args.pack}: {len(samples)} crops {samples.class_counts()}", file=sys.stderr)
    cfg = TrainConfig(data=data, out=args.out, split=args.split, part=args.part, epochs=args.epochs, seed=args.seed,
                      synth_incorrect=args.synth_incorrect, teacher=args.teacher, distill_weight=args.distill_weight,
                      threads=args.threads, device=args.device, progress=False)
    train(cfg, log=lambda m: print(m, file=sys.stderr, flush=True), samples=samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
