"""Synthetic "mask below the nose" faces from photo pairs with and without a pasted mask.

Real mask_worn_incorrectly examples are rare (95 face crops in kaggle-853 `train`). Datasets made
by pasting a mask onto a face (prajna's `12.jpg` / `12-with-mask.jpg`) hold the bare photo and
the masked one pixel-aligned, so their difference is the mask. Pasting that mask lower on the bare
photo uncovers the nose, the commonest way of wearing a mask wrongly, while the rest of the photo
stays real; the classifier has to look at where the mask sits, not only whether there is one.
"""
from __future__ import annotations

import cv2
import numpy as np

DIFF_LEVEL = 40  # per-channel difference that marks a pasted-mask pixel (JPEG noise stays well below)
MIN_MASK_SHARE = 0.02  # pairs whose difference covers less of the photo are not pasted-mask pairs
MAX_MASK_SHARE = 0.45


def pasted_mask(bare: np.ndarray, masked: np.ndarray) -> np.ndarray | None:
    """The pasted mask as a 0/1 image, or None when the pair does not look like one photo plus a mask."""
    if bare.shape != masked.shape:
        return None
    m = (np.abs(bare.astype(np.int16) - masked.astype(np.int16)).max(2) > DIFF_LEVEL).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, comp, stats, _ = cv2.connectedComponentsWithStats(m)
    if n < 2:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    m = (comp == k).astype(np.uint8)
    return m if MIN_MASK_SHARE <= m.mean() <= MAX_MASK_SHARE else None


def mask_below_nose(bare: np.ndarray, masked: np.ndarray, drop: float) -> np.ndarray | None:
    """The bare photo with the pair's mask pasted `drop` x its own height lower (0.25-0.45 uncovers
    the nose), or None when the pair has no clean pasted mask."""
    m = pasted_mask(bare, masked)
    if m is None:
        return None
    ys = np.flatnonzero(m.any(1))
    dy = drop * (ys[-1] - ys[0] + 1)
    h, w = m.shape
    shift = np.float32([[1, 0, 0], [0, 1, dy]])
    m2 = cv2.warpAffine(m, shift, (w, h), flags=cv2.INTER_NEAREST)
    moved = cv2.warpAffine(masked, shift, (w, h), flags=cv2.INTER_LINEAR)
    out = bare.copy()
    out[m2 > 0] = moved[m2 > 0]
    return out
