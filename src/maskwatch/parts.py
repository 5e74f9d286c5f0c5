"""The part check (#47): the nose and the mouth of each face looked at closely.

For faces MIN_FACE_PX tall and up whose detector gave landmarks, two crops (crops.part_crops,
from the full-resolution image) go to a small model (`maskwatch train-parts`) that says whether
the nose and the mouth are covered, and which class. Its class probabilities q are combined with
the face classifier's p as a product of experts, p * q**weight renormalised: `weight` is chosen on
held-out photos and recorded in the model file. A face worn incorrectly gets its `reason` from
the nose and mouth answers. Smaller faces, and faces without landmarks, keep the classifier's
label alone.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .crops import part_crops
from .runtimes import make_session
from .types import LABELS

MIN_FACE_PX = 40  # under this, the nose is a few pixels: the classifier's whole-face look decides
INCORRECT = "mask_worn_incorrectly"
REASONS = {
    (False, True): "nose uncovered",
    (False, False): "chin only",  # neither covered, yet a mask is there: below the mouth
    (True, False): "mouth uncovered",
    (True, True): "mask not fitted",  # both covered by the part check's reading, the face classifier disagrees
}


class PartChecker:
    def __init__(self, path: str | Path, threads: int | None = None, runtime: str = "onnxruntime", weight: float | None = None):
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"part check model not found: {path}")
        try:
            self._session = make_session(str(path), threads, runtime)
        except ValueError as exc:
            if "runtime" in str(exc):
                raise
            raise ValueError(f"cannot load part check model {path}: {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # onnxruntime's own exception types
            raise ValueError(f"cannot load part check model {path}: {str(exc).splitlines()[0]}") from None
        meta = self._session.get_modelmeta().custom_metadata_map
        if meta.get("kind") != "part_check":
            raise ValueError(f"{path} is not a part check model (train one with `maskwatch train-parts`)")
        self.path = path
        self.outputs = tuple(json.loads(meta["outputs"]))
        if self.outputs[2:] != LABELS:
            raise ValueError(f"part check model {path} gives {', '.join(self.outputs[2:])}, expected {', '.join(LABELS)}")
        self.input_size = int(meta["input_size"])
        self.weight = float(meta.get("weight", 1.0)) if weight is None else float(weight)
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"part check weight must be a finite number >= 0, got {self.weight}")
        self.min_face_px = float(meta.get("min_face_px", MIN_FACE_PX))
        self.mode = meta.get("combine", "head")
        if self.mode not in COMBINE_MODES:
            raise ValueError(f"part check model {path}: combine must be one of {', '.join(COMBINE_MODES)}, got {self.mode!r}")
        self._input = self._session.get_inputs()[0].name

    def checkable(self, heights: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
        """Indices of the faces tall enough for a look at their nose and mouth."""
        if landmarks is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(np.asarray(heights) >= self.min_face_px)

    def predict(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(n, 5): nose covered, mouth covered, then the three class probabilities."""
        if len(landmarks) == 0:
            return np.zeros((0, len(self.outputs)), np.float32)
        x = np.stack([part_crops(image, lm, self.input_size) for lm in landmarks]).astype(np.float32)
        return self._session.run(None, {self._input: x})[0]


COMBINE_MODES = ("head", "factored")


def part_class_probs(parts: np.ndarray, mode: str = "head") -> np.ndarray:
    """The part check's class probabilities (n, 3): its own class head, or "factored" from its
    nose and mouth answers (with: both covered; without: neither; incorrect: one of them)."""
    if mode == "head":
        return parts[:, 2:]
    if mode != "factored":
        raise ValueError(f"part check combine mode must be one of {', '.join(COMBINE_MODES)}, got {mode!r}")
    n, m = parts[:, 0], parts[:, 1]
    return np.stack([n * m, (1 - n) * (1 - m), (1 - n) * m + n * (1 - m)], 1)


def combine(probs: np.ndarray, parts: np.ndarray, weight: float, mode: str = "head") -> np.ndarray:
    """The classifier's class probabilities (n, 3) times the part check's to the `weight`, per row
    renormalised."""
    q = np.clip(part_class_probs(parts, mode), 1e-6, 1.0) ** weight
    out = probs * q
    return (out / np.maximum(out.sum(1, keepdims=True), 1e-12)).astype(np.float32)


def reason(label: str | None, nose_covered: float, mouth_covered: float) -> str | None:
    """Why a face is worn incorrectly, from the part check's nose and mouth answers; None for the
    other labels, or when the face was not checked (NaN)."""
    if label != INCORRECT or math.isnan(nose_covered) or math.isnan(mouth_covered):
        return None
    return REASONS[(nose_covered >= 0.5, mouth_covered >= 0.5)]
