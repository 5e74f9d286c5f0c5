"""Pack training crops into one small file, to train on a machine without ../shared/data.

A GPU machine that gets a copy of the repository with a size limit on what travels beside it
(64 MiB in the one this was written for) cannot take the three training sources (121 MB). `load_samples` (the same code `maskwatch train` runs) is run
here with --synth-incorrect, and its 128 px crops are stored as JPEG (quality 90) with labels,
groups and names. `benchmarks/train_from_pack.py` filters it (split part, synthetic or not) and
trains with the ordinary engine. JPEG at 90 is the only difference from training on the folders.

    python benchmarks/pack_samples.py --data ../shared/data/prajna ../shared/data/mask-4k \
        ../shared/data/kaggle-853/annotations.json --split ../shared/data/kaggle-853/split.json \
        --part train --out pack/samples.npz
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from maskwatch.train.data import load_samples

QUALITY = 90


def write_pack(samples, data: list[str], out: str) -> int:
    """Store `samples` (a train.data.Samples) at `out`; returns the bytes of JPEG written."""
    blobs = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1].tobytes() for im in samples.images]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    np.savez(out, jpeg=np.frombuffer(b"".join(blobs), np.uint8), offsets=offsets, labels=samples.labels, groups=samples.groups,
             origins=samples.origins, names=np.array(samples.sources), classes=np.array(samples.classes),
             data=np.array(json.dumps(data)))
    return int(offsets[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--split")
    ap.add_argument("--part")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    s = load_samples(args.data, args.split, args.part, synth_incorrect=True)
    size = write_pack(s, args.data, args.out)
    print(f"{args.out}: {len(s)} crops, {size / 1e6:.1f} MB of JPEG")


if __name__ == "__main__":
    main()
