"""The classifier's spec: where its file lives and how to feed it (detectors: maskwatch.detectors)."""

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


DEFAULT_CLASSIFIER = ClassifierSpec(
    name="maskwatch-mobilenetv2-112-ilc-nonfaces",
    file=MODELS_DIR / "mask_classifier.onnx",
    sha256="b62af352829a60d9336ccec1f3e04ec4e4b3f941890c62a57b4987af6b6f021b",
)


# The part check (parts.py): shipped only once it passes #47's measures; absent, photos keep the
# classifier's label alone.
DEFAULT_PARTS = MODELS_DIR / "part_check.onnx"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
