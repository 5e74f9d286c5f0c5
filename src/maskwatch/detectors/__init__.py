"""Face detectors by name: the registry every verb, the API and the site file choose from.

A backend is one module here with a `load(settings) -> FaceDetector` function; adding one is a
new file and one line in BACKENDS. Nothing outside this package reaches into a backend: the
pipeline asks `load_detector` for a detector and gets a `FaceDetector` (see base.py).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..settings import Settings
from .base import FaceBoxes, FaceDetector

__all__ = ["BACKENDS", "FaceBoxes", "FaceDetector", "available", "detector_name", "load_detector"]


@dataclass(frozen=True)
class Backend:
    module: str  # a module of this package with load(settings, variant) -> FaceDetector
    variant: str  # which of the module's models
    name: str  # the name recorded in outputs
    about: str  # one line for --help and errors


BACKENDS = {
    "finetuned": Backend(
        "retinaface", "finetuned", "retinaface-mobilenet0.25-maskwatch-ft2", "RetinaFace fine-tuned on mask photos (shipped)"
    ),
    "widerface": Backend("retinaface", "widerface", "retinaface-mobilenet0.25", "RetinaFace as published (WIDER FACE)"),
    "yunet": Backend("yunet", "yunet", "yunet-libfacedetection-2023.5", "YuNet from libfacedetection (the yuface wheel; 1x, no pyramid)"),
}


def available() -> str:
    return ", ".join(BACKENDS)


def _backend(name_or_path: str) -> Backend:
    if name_or_path in BACKENDS:
        return BACKENDS[name_or_path]
    if name_or_path.endswith(".onnx"):  # a RetinaFace trained by `maskwatch train-detector`
        return Backend("retinaface", name_or_path, name_or_path.rsplit("/", 1)[-1][: -len(".onnx")], "RetinaFace from a file")
    raise ValueError(f"unknown detector {name_or_path!r}: use {available()} or a .onnx file from train-detector")


def detector_name(name_or_path: str) -> str:
    """The name a detector is recorded under, without loading it."""
    return _backend(name_or_path).name


def load_detector(settings: Settings) -> FaceDetector:
    """The face detector `settings.detector` names, at the settings' operating point
    (settings.conf must be filled in: `Settings.resolved`)."""
    backend = _backend(settings.detector)
    module = importlib.import_module(f".{backend.module}", __name__)
    return module.load(settings, backend.variant)
