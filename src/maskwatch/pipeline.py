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

# Face score threshold: the detector's score, times the classifier's face probability when the
# classifier knows non-faces (`maskwatch train --non-faces`, as the shipped one). Those products run
# lower, so such classifiers get 0.25: on ilc2021 val (classifier trained without val) face recall
# 0.873 and precision 0.796 at 0.25, against 0.881 / 0.753 for the classifier before at 0.5;
# 0.3 gave 0.867 / 0.810, 0.35 0.861 / 0.822, 0.5 0.837 / 0.846 (MODEL_CARD.md).
DEFAULT_FACE_THRESHOLD = 0.5
NON_FACE_AWARE_THRESHOLD = 0.25


def default_face_threshold(classifier) -> float:
    """The photo default face score threshold for a MaskClassifier (None: one without non-faces)."""
    return NON_FACE_AWARE_THRESHOLD if getattr(classifier, "rejects_non_faces", False) else DEFAULT_FACE_THRESHOLD


# Enlarging finds the 10-20 px faces of crowd photos. Chosen in round 1 on a held-out part of
# kaggle-853 train, with the models of then (docs/experiments.md): 2x, 2.25x and 2.5x within noise
# of each other, 3x too slow; detection is most of a photo's time (benchmarks/bench_image.py).
DEFAULT_UPSCALE = 2.25
# Where a face's mask label comes from: the crop classifier, the detector's own mask head
# (detectors trained with `train-detector --mask-head`), or the mean of both. The classifier is the
# default: it beat the head and the mean on a held-out part of kaggle-853 train (round 1) and on
# ilc2021 val with a head trained on ilc2021 too (round 2; MODEL_CARD.md).
LABEL_SOURCES = ("classifier", "detector", "both")


def model_info(model: str | Path | None = None, detector: str | None = None, labels_from: str = "classifier") -> dict:
    """Names of the models a pipeline uses (without loading them)."""
    from . import __version__
    from .specs import resolve_detector

    name = Path(model).stem if model else DEFAULT_CLASSIFIER.name
    return {"classifier": name, "detector": resolve_detector(detector).name, "labels_from": labels_from, "version": __version__}


class Detector:
    """The whole pipeline: finds faces and labels each (maskwatch.Detector).

        >>> import maskwatch
        >>> faces = maskwatch.Detector().detect("examples/street.jpg")

    Its two stages: `.faces`, the FaceDetector (boxes; chosen by `detector=` / `--detector`), and
    `.classifier`, the MaskClassifier (labels; `classifier=` / `--classifier`). Keep one Detector
    for many images or frames: the models load once, here.
    """

    def __init__(
        self,
        classifier: str | Path | None = None,
        conf: float | None = None,
        upscale: float = DEFAULT_UPSCALE,
        max_side: int = 1280,
        box_adjust: tuple[float, float, float, float] | None = None,
        threads: int | None = None,
        detector: str | None = None,
        labels_from: str = "classifier",
        flip: bool | None = None,
        pyramid: bool = True,
        model: str | Path | None = None,
    ):
        """classifier: the mask classifier .onnx (`model` is its older name); detector: the face
        detector's name or .onnx. None: the shipped ones. conf: the face score threshold; None:
        NON_FACE_AWARE_THRESHOLD for a classifier that knows non-faces, else DEFAULT_FACE_THRESHOLD."""
        from .specs import resolve_detector

        if model is not None:
            if classifier is not None:
                raise ValueError("give the classifier once: classifier= (model= is its older name)")
            classifier = model

        spec = resolve_detector(detector)
        self.classifier = MaskClassifier(classifier, threads=threads, flip=flip)
        if conf is None:
            conf = default_face_threshold(self.classifier)
        self.faces = FaceDetector(
            upscale=upscale, score_threshold=conf, max_side=max_side, box_adjust=box_adjust, threads=threads, spec=spec, pyramid=pyramid
        )
        head = self.faces.mask_labels
        if labels_from not in LABEL_SOURCES:
            raise ValueError(f"labels_from must be one of {', '.join(LABEL_SOURCES)}, got {labels_from!r}")
        if labels_from != "classifier":
            if not head:
                raise ValueError(
                    f"detector {spec.name} has no mask head (train one with train-detector --mask-head): "
                    "labels can only come from the classifier"
                )
            if set(head) != set(self.classifier.labels):
                raise ValueError(f"detector labels {', '.join(head)} differ from classifier labels {', '.join(self.classifier.labels)}")
        self.labels_from = labels_from
        # Columns of the detector's head, reordered to the classifier's label order.
        self._head_order = [head.index(l) for l in self.classifier.labels] if labels_from != "classifier" else None

    def info(self) -> dict:
        info = model_info(self.classifier.path if self.classifier.path != DEFAULT_CLASSIFIER.file else None)
        return {**info, "detector": self.faces.spec.name, "labels_from": self.labels_from}

    def detect(self, image: np.ndarray | str | os.PathLike) -> list[Face]:
        """Faces in a BGR image (numpy array) or an image file."""
        if not isinstance(image, np.ndarray):
            image = read_image(image)
        if image.ndim == 2:
            import cv2

            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return self.classify(image, self.faces.detect(image))

    def class_probs(self, image: np.ndarray, found: FaceBoxes, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, classes) probabilities for the faces `rows` of `found` (all by default), in
        `self.classifier.labels` order. Boxes without head output (from a tracker) use the classifier."""
        return self._probs_and_faceness(image, found, rows)[0]

    def _probs_and_faceness(self, image: np.ndarray, found: FaceBoxes, rows: np.ndarray | None = None):
        rows = np.arange(len(found)) if rows is None else np.asarray(rows, np.int64)
        head = None
        if self._head_order is not None and found.mask_probs is not None:
            head = found.mask_probs[rows][:, self._head_order]
            if self.labels_from == "detector":
                return head, np.ones(len(rows), np.float32)
        crop, face = self.classifier.predict_with_faceness(image, found.xyxy[rows])
        return (crop if head is None else (crop + head) / 2), face

    def classify(self, image: np.ndarray, found: FaceBoxes) -> list[Face]:
        """Classify already-found faces (e.g. boxes carried by a tracker).

        With a classifier that knows non-faces, face_score is the detector's score times the
        classifier's face probability, and boxes that fall under the threshold are dropped."""
        probs, faceness = self._probs_and_faceness(image, found)
        scores = found.scores * faceness
        labels = self.classifier.labels
        out = []
        for box, fs, p in zip(found.xyxy, scores, probs):
            if self.classifier.rejects_non_faces and fs < self.faces.score_threshold:
                continue
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
