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


# --- Masks drawn on bare faces, placed with the detector's five landmarks -------------------------
#
# The pasted-mask pairs above only give one kind of mistake, on one dataset's faces. Real photos
# show three: the mask under the nose, pulled down onto the chin, and hanging from one ear. Each is
# drawn here in a canonical 112x112 face frame (the usual five-point alignment template: eyes,
# nose tip, mouth corners) and warped onto the face with the affine that maps the template onto
# the detected landmarks, so it follows the face's position, size, roll and (roughly) yaw.

TEMPLATE_5 = np.float32([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]])
INCORRECT_KINDS = ("under_nose", "on_chin", "one_ear")
# BGR colours of common masks: surgical blues and greens, white, black, greys, cloth colours.
MASK_COLOURS = np.array(
    [
        [222, 196, 150],
        [210, 180, 120],
        [200, 215, 170],
        [245, 245, 245],
        [235, 235, 230],
        [40, 40, 40],
        [25, 25, 30],
        [150, 150, 150],
        [110, 110, 120],
        [190, 150, 230],
        [90, 40, 20],
        [60, 90, 160],
        [120, 160, 200],
        [40, 110, 60],
    ],
    np.float32,
)


def _mask_outline(top: float, bottom: float, left: float, right: float, style: str) -> np.ndarray:
    """Polygon of a mask in the template frame: surgical (a rectangle that narrows a little at the
    bottom) or cloth / KN95 (rounded, coming to a point under the chin)."""
    t = np.linspace(0, 1, 16)
    cx, w = (left + right) / 2, right - left
    if style == "surgical":
        top_edge = np.column_stack([left + w * t, top + 1.5 * np.sin(np.pi * t)])
        bottom_edge = np.column_stack([right - 0.08 * w - 0.84 * w * t, bottom - 2.0 + 3.0 * np.sin(np.pi * t)])
        return np.concatenate([top_edge, [[right, top + 0.5 * (bottom - top)]], bottom_edge, [[left, top + 0.5 * (bottom - top)]]]).astype(
            np.float32
        )
    a = np.pi * t
    top_edge = np.column_stack([left + w * t, top + 2.0 - 4.0 * np.sin(a) * (1 - abs(2 * t - 1)) ** 0.5])
    bottom_edge = np.column_stack([cx + (w / 2) * np.cos(a), top + 0.35 * (bottom - top) + 0.65 * (bottom - top) * np.sin(a)])
    return np.concatenate([top_edge, bottom_edge]).astype(np.float32)


# The canvas the mask is painted on: template units -CANVAS_OFF..CANVAS_UNITS-CANVAS_OFF (so a mask
# on the chin or hanging from an ear still fits), CANVAS_PX pixels per unit.
CANVAS_OFF, CANVAS_UNITS, CANVAS_PX = 20.0, 190, 1.5


def _to_canvas(points: np.ndarray) -> np.ndarray:
    return ((points + CANVAS_OFF) * CANVAS_PX).astype(np.float32)


def _mask_layer(outline: np.ndarray, style: str, colour: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The mask painted on the template canvas: colour image and 0-1 alpha."""
    k = CANVAS_PX
    size = int(CANVAS_UNITS * k)
    pts = np.round(_to_canvas(outline)).astype(np.int32)
    alpha = np.zeros((size, size), np.float32)
    cv2.fillPoly(alpha, [pts], 1.0, cv2.LINE_AA)
    paint = np.empty((size, size, 3), np.float32)
    paint[:] = colour
    ys = np.arange(size, dtype=np.float32)[:, None, None]
    y0, y1 = pts[:, 1].min(), pts[:, 1].max()
    # Light from above: the lower part of the mask a little darker; plus cloth grain.
    paint *= 1.08 - 0.22 * np.clip((ys - y0) / max(y1 - y0, 1), 0, 1)
    paint += rng.normal(0, 6, (size, size, 1)).astype(np.float32)
    x0, x1 = pts[:, 0].min(), pts[:, 0].max()
    if style == "surgical":
        for f in (0.3, 0.5, 0.7):  # pleats
            y = int(y0 + f * (y1 - y0))
            cv2.line(paint, (int(x0), y), (int(x1), y + int(rng.integers(-2, 3))), (colour * 0.75).tolist(), max(1, int(k)), cv2.LINE_AA)
    else:
        cx = int((x0 + x1) / 2)  # the seam down the middle of a cloth / KN95 mask
        cv2.line(paint, (cx, int(y0)), (cx, int(y1)), (colour * 0.8).tolist(), max(1, int(k)), cv2.LINE_AA)
    return np.clip(paint, 0, 255), cv2.GaussianBlur(alpha, (3, 3), 0)


def wear_incorrectly(face: np.ndarray, landmarks: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """`face` (BGR) with a mask drawn on it worn the `kind` way (INCORRECT_KINDS); `landmarks` are the
    face's five points (left eye, right eye, nose tip, left and right mouth corner) in its pixels."""
    style = "surgical" if rng.random() < 0.6 else "cloth"
    colour = MASK_COLOURS[rng.integers(len(MASK_COLOURS))] * rng.uniform(0.85, 1.1)
    left, right = 19 + rng.uniform(-3, 3), 93 + rng.uniform(-3, 3)
    if kind == "under_nose":  # nostrils bare, mouth covered
        top = 76 + rng.uniform(0, 6)
        bottom = top + 40 + rng.uniform(-3, 6)
    elif kind == "on_chin":  # nose and mouth bare
        top = 98 + rng.uniform(0, 7)
        bottom = top + 30 + rng.uniform(-3, 6)
    elif kind == "one_ear":  # off the face, hanging from one ear's loop
        top, bottom = 62.0, 110 + rng.uniform(-3, 5)
    else:
        raise ValueError(f"unknown kind {kind!r}: one of {INCORRECT_KINDS}")
    outline = _mask_outline(top, bottom, left, right, style)
    if kind == "one_ear":
        side = rng.choice([-1.0, 1.0])
        ear = np.float32([56 + side * 42, 70])  # pivot at the ear the loop still holds
        angle = side * rng.uniform(55, 85)  # swung down and away from the face's middle
        rot = cv2.getRotationMatrix2D((float(ear[0]), float(ear[1])), float(angle), 1.0)
        outline = (np.column_stack([outline, np.ones(len(outline))]) @ rot.T).astype(np.float32)
    paint, alpha = _mask_layer(outline, style, colour, rng)
    # Least-squares affine over all five points (a full affine: yaw foreshortens one side).
    src = np.column_stack([_to_canvas(TEMPLATE_5), np.ones(5, np.float32)])
    m = np.linalg.lstsq(src, landmarks.astype(np.float32).reshape(5, 2), rcond=None)[0].T
    h, w = face.shape[:2]
    paint = cv2.warpAffine(paint, m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    # Ear loops: thin strings from the mask's top corners towards where the ears are.
    out = face.astype(np.float32) * (1 - alpha) + paint * alpha
    if kind != "one_ear" and rng.random() < 0.7:
        for corner, ear in ((outline[0], (10.0, 66.0)), (outline[15], (102.0, 66.0))):
            p = cv2.transform(_to_canvas(np.float32([corner, ear]))[None], m)[0]
            cv2.line(out, tuple(int(v) for v in p[0]), tuple(int(v) for v in p[1]), (colour * 0.9).tolist(), 1, cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)


def find_landmarks(detector, face: np.ndarray) -> np.ndarray | None:
    """The five landmarks of the face a crop is centred on, in the crop's pixels (None when the
    detector finds no face near its middle). The crop gets a grey border so its face is not cut."""
    h, w = face.shape[:2]
    pad = max(h, w) // 2
    padded = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    found = detector.detect(padded)
    for box, points in zip(found.xyxy, found.landmarks):
        cx, cy = (box[0] + box[2]) / 2 - pad, (box[1] + box[3]) / 2 - pad
        if abs(cx - w / 2) < w / 4 and abs(cy - h / 2) < h / 4 and box[3] - box[1] > h / 3:
            return points - pad
    return None
