"""The photo pipeline: find faces, classify each, return Face results."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .classify import MaskClassifier
from .detectors import FaceBoxes, detector_name, load_detector
from .face_score import SizeTrust, face_scores
from .imageio import decode_image, read_image
from .settings import PHOTO, Settings
from .specs import DEFAULT_CLASSIFIER, DEFAULT_PARTS
from .types import LABELS, Face, ImageResult


def model_info(settings: Settings = PHOTO) -> dict:
    """Names of the models a pipeline with these settings uses (without loading them)."""
    from ._version import __version__

    name = Path(settings.classifier).stem if settings.classifier else DEFAULT_CLASSIFIER.name
    parts = parts_file(settings)
    info = {"classifier": name, "detector": detector_name(settings.detector), "labels_from": settings.labels_from, "version": __version__}
    return info if parts is None else {**info, "parts": parts.stem}


def parts_file(settings: Settings) -> Path | None:
    """The part check model these settings use, or None (off, or none shipped)."""
    if settings.parts == "off":
        return None
    if settings.parts:
        return Path(settings.parts)
    return DEFAULT_PARTS if DEFAULT_PARTS.is_file() else None


def as_bgr8(image: np.ndarray) -> np.ndarray:
    """A caller's array as the uint8 BGR image the models take: grey and BGRA converted, floats in
    0-1 (as skimage and PIL->numpy pipelines give) scaled to 0-255; anything else one clear error."""
    import cv2

    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected an image of shape (h, w) or (h, w, 3) with h, w > 0, got shape {image.shape}")
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            finite = image[np.isfinite(image)]
            scale = 255.0 if finite.size and finite.max() <= 1.0 else 1.0
            image = np.nan_to_num(image.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.integer) or image.dtype == bool:
            image = (image.astype(np.float32) * (255.0 if image.dtype == bool else 1.0)).clip(0, 255).astype(np.uint8)
        else:
            raise ValueError(f"expected a numeric image array, got dtype {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.shape[2] != 3:
        raise ValueError(f"expected 1, 3 or 4 channels, got {image.shape[2]}")
    return image


class Detector:
    """The whole pipeline: finds faces and labels each (maskwatch.Detector).

        >>> import maskwatch
        >>> faces = maskwatch.Detector().detect("examples/street.jpg")

    Its two stages: a face detector from the registry (`maskwatch.detectors`; chosen by
    `detector=` / `--detector`) and `.classifier`, the MaskClassifier (labels; `classifier=` /
    `--classifier`). `.settings` holds what it runs with (recorded in every output). Keep one
    Detector for many images or frames: the models load once, here.
    """

    def __init__(self, settings: Settings = PHOTO, **changes):
        """settings: a preset of maskwatch.settings (PHOTO, VIDEO, EVALUATION) or your own;
        keyword arguments change single fields, e.g. Detector(conf=0.4, detector="yunet")."""
        if "model" in changes:  # the classifier's older name
            if changes.get("classifier") is not None:
                raise ValueError("give the classifier once: classifier= (model= is its older name)")
            changes["classifier"] = changes.pop("model")
        settings = settings.but(**changes)
        self.classifier = MaskClassifier(settings.classifier, threads=settings.threads, flip=settings.flip, runtime=settings.runtime)
        # The face threshold follows the classifier unless one was given.
        self.settings = settings.resolved(self.classifier.rejects_non_faces)
        self._faces = load_detector(self.settings)
        head = self._faces.mask_labels
        if settings.labels_from != "classifier":
            if not head:
                raise ValueError(
                    f"detector {self._faces.name} has no mask head (train one with train-detector --mask-head): "
                    "labels can only come from the classifier"
                )
            if set(head) != set(self.classifier.labels):
                raise ValueError(f"detector labels {', '.join(head)} differ from classifier labels {', '.join(self.classifier.labels)}")
        self.labels_from = settings.labels_from
        parts = parts_file(self.settings)
        if parts is not None and self.labels_from != "classifier":
            raise ValueError("the part check (--parts) works with the classifier's labels only (--labels-from classifier)")
        if parts is not None and self.classifier.labels != LABELS:
            raise ValueError(f"the part check needs a classifier of the labels {', '.join(LABELS)}")
        self.parts = None
        if parts is not None:
            from .parts import PartChecker

            self.parts = PartChecker(parts, threads=settings.threads, runtime=settings.runtime, weight=settings.part_weight)
        # Columns of the detector's head, reordered to the classifier's label order.
        self._head_order = [head.index(l) for l in self.classifier.labels] if self.labels_from != "classifier" else None

    @property
    def face_detector(self):
        """The face detector backend (detectors/): the in-browser page reads its anchor spec."""
        return self._faces

    @property
    def face_detector_name(self) -> str:
        return self._faces.name

    @property
    def mask_head(self) -> tuple[str, ...] | None:
        """The classes of the face detector's mask head, or None (no head)."""
        return self._faces.mask_labels

    def info(self) -> dict:
        return {**model_info(self.settings), "detector": self._faces.name}

    def find_faces(self, image: np.ndarray, scale: float = 1.0) -> FaceBoxes:
        """Face boxes only (no labels): the first stage, for callers that label later (video).
        scale < 1: look in the frame shrunk by this factor (on top of the settings' upscale;
        a site camera's detect_scale), boxes given in the frame's pixels: detection costs about
        scale squared, and faces under the detector's smallest (about 16 px / scale) are lost."""
        if scale == 1.0:
            return self._faces.detect(image)
        import cv2

        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        return self._faces.detect(small).scaled(w / small.shape[1])

    def detect(self, image: np.ndarray | str | os.PathLike) -> list[Face]:
        """Faces in a BGR image (numpy array) or an image file."""
        if not isinstance(image, np.ndarray):
            image = read_image(image)
        return self.classify(image := as_bgr8(image), self._faces.detect(image))

    def class_probs(self, image: np.ndarray, found: FaceBoxes, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, classes) probabilities for the faces `rows` of `found` (all by default), in
        `self.classifier.labels` order. Boxes without head output (from a tracker) use the classifier."""
        return self._probs_and_faceness(image, found, rows)[0]

    def probs_and_parts(self, image: np.ndarray, found: FaceBoxes, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """class_probs, and the part check's (n, 5) answers (NaN rows: not checked), for video's
        tracker: a track's reason comes from its faces' nose and mouth answers."""
        probs, _, parts = self._probs_and_faceness(image, found, rows)
        return probs, parts

    def _probs_and_faceness(self, image: np.ndarray, found: FaceBoxes, rows: np.ndarray | None = None):
        """Class probabilities, face probabilities and the part check's (n, 5) answers (NaN rows:
        not checked) for the faces `rows` of `found`."""
        rows = np.arange(len(found)) if rows is None else np.asarray(rows, np.int64)
        parts = np.full((len(rows), 5), np.nan, np.float32)
        head = None
        if self._head_order is not None and found.mask_probs is not None:
            head = found.mask_probs[rows][:, self._head_order]
            if self.labels_from == "detector":
                return head, np.ones(len(rows), np.float32), parts
        crop, face = self.classifier.predict_with_faceness(image, found.xyxy[rows])
        probs = crop if head is None else (crop + head) / 2
        if self.parts is not None and len(rows):
            from .parts import combine

            landmarks = None if found.landmarks is None else found.landmarks[rows]
            look = self.parts.checkable(found.heights[rows], landmarks)
            if look.size:
                parts[look] = self.parts.predict(image, landmarks[look])
                probs = probs.copy()
                probs[look] = combine(probs[look], parts[look], self.parts.weight, self.parts.mode)
        return probs, face, parts

    def classify(self, image: np.ndarray, found: FaceBoxes) -> list[Face]:
        """Classify already-found faces (e.g. boxes carried by a tracker).

        With a classifier that knows non-faces, face_score is the detector's score times the
        classifier's face probability, and boxes that fall under the threshold are dropped."""
        from .parts import reason

        probs, faceness, parts = self._probs_and_faceness(image, found)
        scores = face_scores(found.scores, faceness, found.heights, SizeTrust(*self.settings.face_trust))
        labels = self.classifier.labels
        out = []
        for box, fs, p, part in zip(found.xyxy, scores, probs, parts):
            if self.classifier.rejects_non_faces and fs < self.settings.conf:
                continue
            k = int(np.argmax(p))
            why = reason(labels[k], float(part[0]), float(part[1]))
            out.append(
                Face(tuple(float(v) for v in box), float(fs), labels[k], float(p[k]), {l: float(v) for l, v in zip(labels, p)}, reason=why)
            )
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
