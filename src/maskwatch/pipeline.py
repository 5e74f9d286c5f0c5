"""The photo pipeline: find faces, classify each, return Face results."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .classify import MaskClassifier
from .faces import DEFAULT_BOX_ADJUST, FaceBoxes, FaceDetector
from .imageio import read_image
from .types import Face, ImageResult

DEFAULT_FACE_THRESHOLD = 0.5
DEFAULT_UPSCALE = 2.0


class Detector:
    """Face-mask detector.

        >>> import maskwatch
        >>> faces = maskwatch.Detector().detect("examples/street.jpg")

    Keep one Detector for many images or frames: the models load once, here.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        conf: float = DEFAULT_FACE_THRESHOLD,
        upscale: float = DEFAULT_UPSCALE,
        max_side: int = 1280,
        box_adjust: tuple[float, float, float, float] = DEFAULT_BOX_ADJUST,
        threads: int | None = None,
    ):
        self.faces = FaceDetector(upscale=upscale, score_threshold=conf, max_side=max_side, box_adjust=box_adjust, threads=threads)
        self.classifier = MaskClassifier(model, threads=threads)

    def info(self) -> dict:
        from . import __version__

        return {"classifier": self.classifier.name, "detector": self.faces.spec.name, "version": __version__}

    def detect(self, image: np.ndarray | str | os.PathLike) -> list[Face]:
        """Faces in a BGR image (numpy array) or an image file."""
        if not isinstance(image, np.ndarray):
            image = read_image(image)
        if image.ndim == 2:
            import cv2

            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return self.classify(image, self.faces.detect(image))

    def classify(self, image: np.ndarray, found: FaceBoxes) -> list[Face]:
        """Classify already-found faces (e.g. boxes carried by a tracker)."""
        probs = self.classifier.predict(image, found.xyxy)
        labels = self.classifier.labels
        out = []
        for box, fs, p in zip(found.xyxy, found.scores, probs):
            k = int(np.argmax(p))
            out.append(Face(tuple(float(v) for v in box), float(fs), labels[k], float(p[k]), {l: float(v) for l, v in zip(labels, p)}))
        return out

    def process_file(self, path: str) -> tuple[ImageResult, np.ndarray | None]:
        """Read and detect one file; a bad file gives an ImageResult with `error`, never an exception."""
        try:
            image = read_image(path)
        except ValueError as exc:
            return ImageResult(file=path, error=str(exc)), None
        h, w = image.shape[:2]
        return ImageResult(file=path, width=w, height=h, faces=self.detect(image)), image
