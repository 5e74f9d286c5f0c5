"""Mask classification of face crops with the shipped (or any exported) ONNX model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .crops import crop_face
from .runtimes import make_session
from .specs import DEFAULT_CLASSIFIER, sha256_file
from .types import LABELS, NOT_A_FACE


class MaskClassifier:
    """Gives class probabilities for face boxes in an image.

    Labels, input size and crop margin are read from the ONNX file's metadata. With `flip`, a crop
    whose top probability is under `flip_below` is also classified mirrored and the two averaged
    (round 1, on a held-out part of kaggle-853 train: mAP50 0.768 -> 0.778, the same as mirroring
    every crop, at almost no extra time; docs/experiments.md). `flip=None` follows the model: ensembles (`maskwatch ensemble`)
    say `mirror_unsure: false` in their metadata, since their mean already does that job, for less time.

    A model with a `not_a_face` output (`maskwatch train --non-faces`) also says how likely each
    box is to hold a face at all; `labels` are then the mask classes only.
    """

    def __init__(self, model: str | Path | None = None, threads: int | None = None, flip: bool | None = None, runtime: str = "onnxruntime"):
        path = Path(model) if model else DEFAULT_CLASSIFIER.file
        if not path.is_file():
            raise ValueError(f"classifier model not found: {path}")
        if model is None and DEFAULT_CLASSIFIER.sha256 and sha256_file(path) != DEFAULT_CLASSIFIER.sha256:
            raise ValueError(f"the shipped classifier {path} is damaged (sha256 mismatch): reinstall maskwatch")
        try:
            self._session = make_session(str(path), threads, runtime)
        except ValueError as exc:
            if "runtime" in str(exc):  # OpenVINO missing, or no bf16 on this CPU
                raise
            raise ValueError(f"cannot load classifier model {path}: {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(f"cannot load classifier model {path}: {str(exc).splitlines()[0]}") from None
        meta = self._session.get_modelmeta().custom_metadata_map
        self.path = path
        self.name = path.stem if model else DEFAULT_CLASSIFIER.name
        self.model_labels: tuple[str, ...] = tuple(json.loads(meta["labels"])) if "labels" in meta else LABELS
        self.labels = tuple(l for l in self.model_labels if l != NOT_A_FACE)
        self._not_face = self.model_labels.index(NOT_A_FACE) if NOT_A_FACE in self.model_labels else None
        self.input_size = int(meta.get("input_size", DEFAULT_CLASSIFIER.input_size))
        self.margin = float(meta.get("margin", DEFAULT_CLASSIFIER.margin))
        self._input_name = self._session.get_inputs()[0].name
        self.flip = meta.get("mirror_unsure", "true") != "false" if flip is None else flip
        # Each class's share of the training draws, when the model says (`maskwatch train` writes it).
        self.class_prior: dict[str, float] | None = json.loads(meta["class_prior"]) if "class_prior" in meta else None
        self.flip_below = 0.9
        self._check_shape(path)

    def _check_shape(self, path: Path) -> None:
        """One blank crop at load: a model of another input or output shape is one line now (it
        wrote "internal error" for every photo, and a resume took those files as done)."""
        x = np.zeros((1, self.input_size, self.input_size, 3), np.float32)
        try:
            p = self._session.run(None, {self._input_name: x})[0]
        except Exception as exc:
            raise ValueError(
                f"classifier model {path} does not take 1x{self.input_size}x{self.input_size}x3 face crops: {str(exc).splitlines()[0]}"
            ) from None
        if p.shape != (1, len(self.model_labels)):
            raise ValueError(
                f"classifier model {path} gives outputs of shape {tuple(p.shape)}, expected (1, {len(self.model_labels)}): "
                f"one probability per label ({', '.join(self.model_labels)})"
            )

    def balancing_weights(self) -> np.ndarray | None:
        """Per mask class (in `labels` order), 1 / its training prior, scaled to mean 1: probabilities
        times these, renormalised, are what the model would say had every class been drawn equally
        often (a label-shift correction). None when the model does not record its prior."""
        if not self.class_prior or any(self.class_prior.get(l, 0) <= 0 for l in self.labels):
            return None
        w = np.array([1 / self.class_prior[l] for l in self.labels], np.float64)
        return w / w.mean()

    def crops(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Square crops around each box at the model's input size; (n, S, S, 3) uint8 BGR."""
        size = self.input_size
        if len(boxes) == 0:
            return np.zeros((0, size, size, 3), np.uint8)
        return np.stack([crop_face(image, box, self.margin, size) for box in boxes])

    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:  # one column per model output (a not_a_face column too, if it has one)
            return np.zeros((0, len(self.model_labels)), np.float32)
        x = crops.astype(np.float32, copy=False)
        p = self._session.run(None, {self._input_name: x})[0]
        if not self.flip:
            return p
        # A second, mirrored look only where the first is unsure of the mask class: most faces are
        # clear-cut, so this keeps nearly all of the gain for a fraction of the cost. With a
        # not_a_face output, only boxes it takes for faces: mirroring every box it doubts (4 in 10
        # on kaggle test, most of them false boxes) cost more than the classifier's first look.
        mask = p if self._not_face is None else np.delete(p, self._not_face, axis=1)
        sure = mask.max(1) >= self.flip_below * mask.sum(1)
        unsure = np.flatnonzero(~sure if self._not_face is None else ~sure & (p[:, self._not_face] < 0.5))
        if unsure.size:
            mirrored = np.ascontiguousarray(x[unsure, :, ::-1])
            p[unsure] = (p[unsure] + self._session.run(None, {self._input_name: mirrored})[0]) / 2
        return p

    @property
    def rejects_non_faces(self) -> bool:
        return self._not_face is not None

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(n, labels) mask-class probabilities for the n boxes (each row sums to 1)."""
        return self.predict_with_faceness(image, boxes)[0]

    def predict_with_faceness(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mask-class probabilities (n, labels), and the probability that each box holds a face
        (n,): 1 for models without a `not_a_face` output."""
        p = self.predict_crops(self.crops(image, np.asarray(boxes).reshape(-1, 4)))
        if self._not_face is None:
            return p, np.ones(len(p), np.float32)
        face = 1.0 - p[:, self._not_face]
        mask = np.delete(p, self._not_face, axis=1)
        return mask / np.maximum(mask.sum(1, keepdims=True), 1e-6), face
