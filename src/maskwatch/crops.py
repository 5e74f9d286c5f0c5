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


# --- The part check's crops: nose and mouth, placed by the detector's five landmarks -------------
# Eyes -> mouth is the face's scale and its "down": it shrinks far less with yaw than the eye line.
# Both crops are that distance wide; the nose one spans eye line to upper lip, the mouth one upper
# lip to chin, so a mask's top edge above or below the nose tip is in the first.
PART_SIDE = 1.1
NOSE_SHIFT, MOUTH_SHIFT = 0.05, 0.2  # crop centres moved down from the nose / mouth, in that scale


def part_crops(image: np.ndarray, landmarks, size: int) -> np.ndarray:
    """(2, size, size, 3) uint8: the nose and the mouth crops of one face, upright (the face's
    roll undone), from `landmarks` (5, 2): eyes, nose tip, mouth corners, in image pixels."""
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    eyes, mouth = (lm[0] + lm[1]) / 2, (lm[3] + lm[4]) / 2
    down = mouth - eyes
    scale = max(float(np.hypot(*down)), 1.0)
    u = down / scale
    r = np.array([u[1], -u[0]])  # the face's right, in image coordinates
    side = PART_SIDE * scale
    return np.stack(
        [_square(image, centre, u, r, side, size) for centre in (lm[2] + u * NOSE_SHIFT * scale, mouth + u * MOUTH_SHIFT * scale)]
    )


def _square(image: np.ndarray, centre: np.ndarray, u: np.ndarray, r: np.ndarray, side: float, size: int) -> np.ndarray:
    corners = np.array([centre - (r + u) * side / 2, centre + (r - u) * side / 2, centre + (u - r) * side / 2])
    shrink = size / side
    if shrink < 0.5:  # much smaller: area-average a region first (warpAffine would alias)
        h, w = image.shape[:2]
        x1, y1 = np.floor(corners.min(0) - side * 0.5).astype(int)
        x2, y2 = np.ceil(corners.max(0) + side * 0.5).astype(int)
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            k = 2 * shrink
            region = image[y1:y2, x1:x2]
            small = cv2.resize(
                region, (max(1, round(region.shape[1] * k)), max(1, round(region.shape[0] * k))), interpolation=cv2.INTER_AREA
            )
            sx, sy = small.shape[1] / region.shape[1], small.shape[0] / region.shape[0]
            image, corners = small, (corners - (x1, y1)) * (sx, sy)
    m = cv2.getAffineTransform(corners.astype(np.float32), np.float32([[0, 0], [size, 0], [0, size]]))
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
