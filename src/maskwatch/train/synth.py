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


# Real masks are mostly white, black, light blue, dark blue, grey or pink; prajna's are all light
# blue. BGR; shading is kept from the pasted mask.
MASK_COLOURS = ((235, 235, 235), (30, 30, 30), (120, 80, 40), (200, 190, 225), (150, 150, 150), (230, 200, 170))


def mask_below_nose(bare: np.ndarray, masked: np.ndarray, drop: float, colour: tuple[int, int, int] | None = None) -> np.ndarray | None:
    """The bare photo with the pair's mask pasted `drop` x its own height lower (0.25-0.45 uncovers
    the nose; 0 puts it back where it was), optionally recoloured, or None when the pair has no
    clean pasted mask."""
    m = pasted_mask(bare, masked)
    if m is None:
        return None
    if colour is not None:
        # Pixels where the pasted mask matched the photo leave holes in the difference; filled,
        # so no patch of the old colour shows through.
        filled = np.zeros_like(m)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        m = cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
        masked = recolour(masked, m, colour)
    ys = np.flatnonzero(m.any(1))
    dy = drop * (ys[-1] - ys[0] + 1)
    h, w = m.shape
    shift = np.float32([[1, 0, 0], [0, 1, dy]])
    m2 = cv2.warpAffine(m, shift, (w, h), flags=cv2.INTER_NEAREST)
    moved = cv2.warpAffine(masked, shift, (w, h), flags=cv2.INTER_LINEAR)
    out = bare.copy()
    out[m2 > 0] = moved[m2 > 0]
    return out


def recolour(image: np.ndarray, m: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """`image` with the pixels under `m` turned to `colour`, keeping their relative brightness
    (folds and shadows of the mask survive)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    inside = m > 0
    shade = grey / max(float(grey[inside].mean()), 1.0)
    tinted = np.clip(shade[..., None] * np.float32(colour), 0, 255).astype(np.uint8)
    out = image.copy()
    out[inside] = tinted[inside]
    return out
