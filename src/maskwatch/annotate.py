"""Drawing results on images: a box coloured per class, with label and probability."""
from __future__ import annotations

import cv2
import numpy as np

from .types import Face

# BGR colours: green = mask, red = no mask, orange = worn incorrectly.
COLORS = {"with_mask": (60, 180, 60), "without_mask": (40, 40, 220), "mask_worn_incorrectly": (0, 150, 255)}
SHORT = {"with_mask": "mask", "without_mask": "no mask", "mask_worn_incorrectly": "incorrect"}


class FaceAnnotator:
    """annotate(scene, faces) -> scene: draws on a copy, the input stays untouched."""

    def __init__(self, show_label: bool = True, thickness: int | None = None):
        self.show_label = show_label
        self.thickness = thickness

    def annotate(self, scene: np.ndarray, faces: list[Face]) -> np.ndarray:
        out = scene.copy()
        h, w = out.shape[:2]
        base = self.thickness or max(1, round(max(h, w) / 600))
        font_scale = max(0.35, max(h, w) / 1600)
        # Smallest faces last, so their labels are not hidden under big boxes.
        for face in sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1])):
            color = COLORS.get(face.label, (200, 200, 200))
            x1, y1, x2, y2 = (int(round(v)) for v in face.box)
            cv2.rectangle(out, (x1, y1), (x2, y2), color, base, cv2.LINE_AA)
            if not self.show_label:
                continue
            text = f"{SHORT.get(face.label, face.label)} {face.score:.0%}"
            (tw, th), bl = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
            ty = y1 - 2 if y1 - th - bl - 2 >= 0 else y2 + th + 2
            cv2.rectangle(out, (x1, ty - th - bl), (x1 + tw + 2, ty + bl - 1), color, -1)
            cv2.putText(out, text, (x1 + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
        return out
