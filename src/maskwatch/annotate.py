"""Drawing results on images: a box coloured per class, with label and probability.

On OpenCV, not supervision's annotators: supervision brings av, matplotlib and scipy, which the
photo-only install leaves out (380 MB against 731 MB with the `[video]` extra,
benchmarks/install_size.py); these 100 lines do what its Box/Label annotators and pixelation would."""

from __future__ import annotations

import cv2
import numpy as np

from .types import Face

# BGR colours: green = mask, red = no mask, orange = worn incorrectly, grey = not decided yet.
COLORS = {"with_mask": (60, 180, 60), "without_mask": (40, 40, 220), "mask_worn_incorrectly": (0, 150, 255)}
UNDECIDED = (160, 160, 160)
SHORT = {"with_mask": "mask", "without_mask": "no mask", "mask_worn_incorrectly": "incorrect"}


def _scale(shape) -> tuple[int, float]:
    side = max(shape[:2])
    return max(1, round(side / 600)), max(0.35, side / 1600)


def draw_labelled_box(out: np.ndarray, box, color, text: str | None, thickness: int, font_scale: float) -> None:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
    if not text:
        return
    (tw, th), bl = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    ty = y1 - 2 if y1 - th - bl - 2 >= 0 else y2 + th + 2
    cv2.rectangle(out, (x1, ty - th - bl), (x1 + tw + 2, ty + bl - 1), color, -1)
    cv2.putText(out, text, (x1 + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA)


def _largest_first(items, box_of):
    # Small faces drawn last, so their labels are not hidden under big boxes.
    return sorted(items, key=lambda it: -(box_of(it)[2] - box_of(it)[0]) * (box_of(it)[3] - box_of(it)[1]))


class FaceAnnotator:
    """annotate(scene, faces) -> scene: draws on a copy, the input stays untouched."""

    def __init__(self, show_label: bool = True):
        self.show_label = show_label

    def annotate(self, scene: np.ndarray, faces: list[Face]) -> np.ndarray:
        out = scene.copy()
        thickness, font = _scale(out.shape)
        for face in _largest_first(faces, lambda f: f.box):
            text = f"{SHORT.get(face.label, face.label)} {face.score:.0%}" if self.show_label else None
            if text and face.reason:  # why it is worn incorrectly (the part check)
                text += f": {face.reason}"
            draw_labelled_box(out, face.box, COLORS.get(face.label, UNDECIDED), text, thickness, font)
        return out


class TrackAnnotator:
    """Tracked faces: track id, the track's status, and its smoothed probability."""

    def annotate(self, scene: np.ndarray, tracked) -> np.ndarray:
        thickness, font = _scale(scene.shape)
        for t in _largest_first(tracked, lambda f: f.box):
            if t.label is None:
                text, color = f"#{t.track_id} ?", UNDECIDED
            else:
                text, color = f"#{t.track_id} {SHORT.get(t.label, t.label)} {t.score:.0%}", COLORS.get(t.label, UNDECIDED)
            draw_labelled_box(scene, t.box, color, text, thickness, font)
        return scene


def draw_counts(scene: np.ndarray, counts: dict) -> np.ndarray:
    """A panel with people seen, per-status counts and the compliance rate."""
    rate = counts.get("compliance_rate")
    lines = [
        f"people {counts['people']}",
        f"mask {counts.get('with_mask', 0)}",
        f"no mask {counts.get('without_mask', 0)}",
        f"incorrect {counts.get('mask_worn_incorrectly', 0)}",
        "compliance " + (f"{rate:.0%}" if rate is not None else "-"),
    ]
    _, font = _scale(scene.shape)
    font *= 1.2
    (_, th), _ = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, font, 1)
    width = max(cv2.getTextSize(l, cv2.FONT_HERSHEY_SIMPLEX, font, 1)[0][0] for l in lines) + 12
    height = (th + 8) * len(lines) + 6
    region = scene[0:height, 0:width]
    region[:] = (region * 0.4).astype(scene.dtype)  # darken for contrast
    for i, line in enumerate(lines):
        cv2.putText(scene, line, (6, (th + 8) * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), 1, cv2.LINE_AA)
    return scene


def blur_faces(scene: np.ndarray, boxes, grow: float = 0.15) -> np.ndarray:
    """Pixelate each face box (grown a little) in place: privacy that survives re-encoding."""
    h, w = scene.shape[:2]
    for x1, y1, x2, y2 in boxes:
        gw, gh = (x2 - x1) * grow, (y2 - y1) * grow
        a, b = max(0, int(x1 - gw)), max(0, int(y1 - gh))
        c, d = min(w, int(np.ceil(x2 + gw))), min(h, int(np.ceil(y2 + gh)))
        if c - a < 2 or d - b < 2:
            continue
        roi = scene[b:d, a:c]
        # 6x6 blocks per face: too coarse to recognise anyone, at any face size.
        small = cv2.resize(roi, (min(6, c - a), min(6, d - b)), interpolation=cv2.INTER_AREA)
        scene[b:d, a:c] = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_NEAREST)
    return scene
