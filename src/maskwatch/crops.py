"""Face crops: the same geometry for training and inference, so the classifier sees alike inputs."""

from __future__ import annotations

import cv2
import numpy as np

from .boxes import square_crop_box


def crop_face(image: np.ndarray, box, margin: float, size: int) -> np.ndarray:
    """Square crop around a face box grown by `margin`, edge-replicated off-image, resized to size."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = square_crop_box(box, margin, w, h)
    cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if cx2 <= cx1 or cy2 <= cy1:  # box entirely off-image: nothing to see
        return np.zeros((size, size, 3), np.uint8)
    crop = image[cy1:cy2, cx1:cx2]
    pads = (cy1 - y1, y2 - cy2, cx1 - x1, x2 - cx2)
    if any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def dhash(image: np.ndarray) -> int:
    """A 64-bit difference hash: near-identical images differ in a few bits (training's photo
    groups, the review store's duplicates)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1)
    return int(np.packbits(bits).view(">u8")[0])
