"""Training crops packed into one file, to train on a machine without the data folders.

A machine with a GPU may take a copy of the repository with a size limit on what travels beside
it, too small for the photo folders. `maskwatch train --save-pack samples.npz` stores the crops
that `maskwatch train` would load (128 px, JPEG at quality 90), with labels, groups and names;
`maskwatch train --pack samples.npz` trains from it with the same engine. JPEG at 90 is the only
difference from training on the folders.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .data import DETECTED, SYNTHETIC, Samples

QUALITY = 90


# Packs written before the margin was recorded were all cut at this one.
OLD_MARGIN = 0.15


def write_pack(samples: Samples, data: list[str], out: str, margin: float = OLD_MARGIN) -> int:
    """Store `samples` (cropped with `margin`) at `out` (an .npz); returns the bytes of JPEG written."""
    blobs = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1].tobytes() for im in samples.images]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    np.savez(
        out,
        jpeg=np.frombuffer(b"".join(blobs), np.uint8),
        offsets=offsets,
        labels=samples.labels,
        groups=samples.groups,
        origins=samples.origins,
        names=np.array(samples.sources),
        classes=np.array(samples.classes),
        data=np.array(json.dumps(data)),
        margin=np.array(margin),
    )
    return int(offsets[-1])


def load_pack(
    path: str, split: str | None = None, part: str | None = None, synthetic: bool = True, detected: bool = True
) -> tuple[Samples, list[str]]:
    """The pack's samples and the --data it was made from. `split`/`part` keep only that part's
    annotated photos (class-folder images always stay); `synthetic=False` drops made-up samples,
    `detected=False` the second crops of faces at the detector's boxes (`--detected-faces`)."""
    try:
        z = np.load(path)
        names = [str(n) for n in z["names"]]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path} is not a training pack from `maskwatch train --save-pack` ({exc})") from None
    keep = np.ones(len(names), bool)
    if not synthetic:
        keep &= ~np.array([SYNTHETIC in n for n in names], bool)
    if not detected:
        keep &= ~np.array([n.endswith(DETECTED) for n in names], bool)
    if split:
        wanted = set(json.loads(Path(split).read_text())[part])
        # Crops of annotated photos are named "<image key>@x,y"; class-folder images keep their paths.
        keep &= np.array([("@" not in n) or (n.split("@")[0] in wanted) for n in names], bool)
    idx = np.flatnonzero(keep)
    jpeg, off = z["jpeg"], z["offsets"]
    images = np.stack([cv2.imdecode(jpeg[off[i] : off[i + 1]], cv2.IMREAD_COLOR) for i in idx])
    s = Samples(images, z["labels"][idx], z["groups"][idx], [names[i] for i in idx], z["origins"][idx], tuple(str(c) for c in z["classes"]))
    return s, json.loads(str(z["data"]))


def pack_margin(path: str) -> float:
    """The crop margin a pack's faces were cut with."""
    try:
        with np.load(path) as z:
            return float(z["margin"]) if "margin" in z.files else OLD_MARGIN
    except (OSError, ValueError, AttributeError) as exc:  # AttributeError: an .npy array, not an archive
        raise ValueError(f"{path} is not a training pack from `maskwatch train --save-pack` ({exc})") from None
