"""The photo pipeline: find faces, classify each, return Face results."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .classify import MaskClassifier
from .faces import FaceBoxes, FaceDetector
from .imageio import decode_image, read_image
from .specs import DEFAULT_CLASSIFIER
from .types import Face, ImageResult

DEFAULT_FACE_THRESHOLD = 0.5
DEFAULT_UPSCALE = 2.0


def model_info(model: str | Path | None = None, detector: str | None = None) -> dict:
    """Names of the models a pipeline uses (without loading them)."""
    from . import __version__
    from .specs import resolve_detector

    name = Path(model).stem if model else DEFAULT_CLASSIFIER.name
    return {"classifier": name, "detector": resolve_detector(detector).name, "version": __version__}


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
        box_adjust: tuple[float, float, float, float] | None = None,
        threads: int | None = None,
        detector: str | None = None,
    ):
        from .specs import resolve_detector

        spec = resolve_detector(detector)
        self.faces = FaceDetector(upscale=upscale, score_threshold=conf, max_side=max_side, box_adjust=box_adjust,
                                  threads=threads, spec=spec)
        self.classifier = MaskClassifier(model, threads=threads)

    def info(self) -> dict:
        info = model_info(self.classifier.path if self.classifier.path != DEFAULT_CLASSIFIER.file else None)
        return {**info, "detector": self.faces.spec.name}

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

    def process_file(self, path: str, data: bytes | None = None) -> tuple[ImageResult, np.ndarray | None]:
        """Read (or decode `data` of) one file and detect; a bad file gives an ImageResult with
        `error`, never an exception."""
        try:
            image = read_image(path) if data is None else decode_image(data, name=path)
        except ValueError as exc:
            return ImageResult(file=path, error=str(exc)), None
        h, w = image.shape[:2]
        return ImageResult(file=path, width=w, height=h, faces=self.detect(image)), image
