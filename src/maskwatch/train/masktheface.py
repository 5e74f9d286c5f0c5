"""Real mask pictures warped onto bare faces (#47): MaskTheFace's 21 templates (MIT), placed by the
face detector's five landmarks, worn right, under the nose or on the chin.

Each template has six anchor points (top left, nose bridge, top right, bottom left, under the
chin, bottom right; masks.cfg). They go to six points of the face built from its landmarks in the
face's own frame: "down" is eyes -> mouth (its length the unit), "across" the eye line. Worn
right, the top edge runs over the nose bridge; under the nose, it sits just below the nose tip;
on the chin, below the mouth. The turned templates (`_left`, `_right`) follow the face's yaw (the
nose tip's offset from the eyes' midpoint). The mask's light is matched to the face's, and it
is blurred as much as the face is (a small face drawn sharp would be a cue of its own).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

WEARS = ("right", "under_nose", "chin")
# Per wear: the top edge's middle and sides, below the eye line in units of eyes -> mouth; the
# bottom edge stays under the chin (lower for the chin wear, the mask having slid down).
TOP = {"right": (0.25, 0.45), "under_nose": (0.78, 0.85), "chin": (1.4, 1.32)}
BOTTOM = {"right": (1.75, 1.45), "under_nose": (1.85, 1.5), "chin": (2.15, 1.8)}
HALF_WIDTH = 1.05  # the mask's half width, in eye distances along the eye line


@dataclass(frozen=True)
class Template:
    name: str
    rgba: np.ndarray  # (h, w, 4) uint8, BGR + alpha
    anchors: np.ndarray  # (6, 2): a, b, c, d, e, f


def load_templates(folder: str | Path) -> list[Template]:
    """The templates of a MaskTheFace folder (masks.cfg and templates/*.png)."""
    folder = Path(folder)
    cfg = configparser.ConfigParser()
    if not cfg.read(folder / "masks.cfg"):
        raise ValueError(f"no masks.cfg in {folder}")
    out = []
    for name in cfg.sections():
        if "template" not in cfg[name]:  # the cfg's "empty" and "inpaint" entries draw no mask
            continue
        file = folder / "templates" / Path(cfg[name]["template"]).name
        rgba = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
        if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4:
            continue
        anchors = np.array([[float(v) for v in cfg[name][f"mask_{k}"].split(",")] for k in "abcdef"], np.float32)
        out.append(Template(name, rgba, anchors))
    if not out:
        raise ValueError(f"no usable templates in {folder}")
    return out


def pick(templates: list[Template], landmarks: np.ndarray, rng: np.random.Generator) -> Template:
    """A template of a random kind, turned as the face is (straight on within a small yaw)."""
    yaw = _yaw(landmarks)
    side = "" if abs(yaw) < 0.12 else ("_left" if yaw > 0 else "_right")
    kinds = sorted(
        {t.name.removesuffix("_left").removesuffix("_right") for t in templates if t.name != "gas" and not t.name.startswith("gas")}
    )
    kind = kinds[int(rng.integers(len(kinds)))]
    by_name = {t.name: t for t in templates}
    return by_name.get(kind + side, by_name[kind])


def _frame(landmarks: np.ndarray):
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    eyes, mouth = (lm[0] + lm[1]) / 2, (lm[3] + lm[4]) / 2
    down = mouth - eyes
    unit = max(float(np.hypot(*down)), 1.0)
    u = down / unit
    r = np.array([u[1], -u[0]])
    return lm, eyes, unit, u, r


def _yaw(landmarks: np.ndarray) -> float:
    """The nose tip's offset from the eyes' midpoint across the face, in eye distances (> 0: the
    nose towards the image's right)."""
    lm, eyes, _, _, r = _frame(landmarks)
    eye_distance = max(abs(float((lm[1] - lm[0]) @ r)), 1.0)
    return float((lm[2] - eyes) @ r) / eye_distance


def face_points(landmarks: np.ndarray, wear: str, rng: np.random.Generator) -> np.ndarray:
    """The six points (a..f) a template's anchors go to on this face, in image pixels."""
    lm, eyes, unit, u, r = _frame(landmarks)
    eye_distance = max(abs(float((lm[1] - lm[0]) @ r)), 1.0)
    half = HALF_WIDTH * eye_distance * rng.uniform(0.92, 1.08)
    centre = eyes + r * float((lm[2] - eyes) @ r) * 0.6  # follows the nose a little with yaw
    (top_mid, top_side), (bottom_mid, bottom_side) = TOP[wear], BOTTOM[wear]
    jitter = rng.uniform(-0.05, 0.05, 2)
    top_mid, top_side = top_mid + jitter[0], top_side + jitter[0]
    bottom_mid, bottom_side = bottom_mid + jitter[1], bottom_side + jitter[1]
    if wear == "under_nose":  # the top edge just under this face's own nose tip
        nose_down = float((lm[2] - eyes) @ u) / unit
        # (the fitted homography lifts a template's middle a little above its anchor)
        top_mid, top_side = nose_down + 0.25 + jitter[0] * 0.5, nose_down + 0.32 + jitter[0] * 0.5
    pts = [
        centre - r * half + u * top_side * unit,
        centre + u * top_mid * unit,
        centre + r * half + u * top_side * unit,
        centre - r * half * 0.92 + u * bottom_side * unit,
        centre + u * bottom_mid * unit,
        centre + r * half * 0.92 + u * bottom_side * unit,
    ]
    return np.array(pts, np.float32)


def wear_mask(image: np.ndarray, landmarks: np.ndarray, template: Template, wear: str, rng: np.random.Generator) -> np.ndarray:
    """`image` (BGR) with the template warped onto the face of `landmarks`, worn the `wear` way."""
    if wear not in WEARS:
        raise ValueError(f"wear must be one of {', '.join(WEARS)}, got {wear!r}")
    dst = face_points(landmarks, wear, rng)
    h, w = image.shape[:2]
    m, _ = cv2.findHomography(template.anchors, dst)
    if m is None:
        return image
    layer = cv2.warpPerspective(template.rgba, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    alpha = layer[:, :, 3:4].astype(np.float32) / 255.0
    if not alpha.any():
        return image
    mask_bgr = layer[:, :, :3].astype(np.float32)
    # Light: the mask's brightness scaled towards the face's (cheeks and forehead around it).
    lm, eyes, unit, u, r = _frame(landmarks)
    x1, y1 = np.maximum((eyes - unit * 1.2).astype(int), 0)
    x2, y2 = np.minimum((eyes + unit * 1.2).astype(int), (w - 1, h - 1))
    face_light = float(image[y1 : y2 + 1, x1 : x2 + 1].mean()) if x2 > x1 and y2 > y1 else 128.0
    inside = alpha[:, :, 0] > 0.5
    mask_light = float(mask_bgr[inside].mean()) if inside.any() else 128.0
    gain = np.clip((face_light / max(mask_light, 1.0)) ** 0.6, 0.45, 1.3) * rng.uniform(0.9, 1.1)
    mask_bgr = mask_bgr * gain
    # Blur: as soft as the face (a small face is soft after any resize), plus a little.
    sigma = max(0.3, unit / 60.0) * rng.uniform(0.6, 1.4)
    mask_bgr = cv2.GaussianBlur(mask_bgr, (0, 0), sigma)
    alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)[:, :, None]
    out = image.astype(np.float32) * (1 - alpha) + mask_bgr * alpha
    return np.clip(out, 0, 255).astype(np.uint8)
