"""Augmentations for cached face crops (numpy/OpenCV, cheap enough for the training loop)."""

from __future__ import annotations

import cv2
import numpy as np


def augment(img: np.ndarray, size: int, rng: np.random.Generator, lowres_p: float = 0.3) -> np.ndarray:
    """Random scale/shift/rotation (detector boxes wobble), flip, colour, and low resolution."""
    s = img.shape[0]
    scale = rng.uniform(0.85, 1.15) * size / s
    angle = rng.uniform(-12, 12)
    m = cv2.getRotationMatrix2D((s / 2, s / 2), angle, scale)
    m[:, 2] += (size - s) / 2 + rng.uniform(-0.08, 0.08, 2) * size
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = out.astype(np.float32)
    out = out * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)  # contrast, brightness
    if rng.random() < 0.2:
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * rng.uniform(0.0, 0.6)  # desaturate
    out = np.clip(out, 0, 255).astype(np.uint8)
    # Most faces in crowded photos are 10-40 px tall: train on what the detector will hand us.
    if rng.random() < lowres_p:
        low = int(rng.integers(14, 41))
        out = cv2.resize(cv2.resize(out, (low, low), interpolation=cv2.INTER_AREA), (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.15:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 70))])
        if ok:
            out = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(out)


def plain(img: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
