"""maskwatch: find faces and tell whether each wears a mask, wears it incorrectly, or wears none.

Importing the package loads no model and no heavy framework; `Detector()` loads the models.
"""

from __future__ import annotations

from ._version import __version__

__all__ = ["Detector", "Face", "ImageResult", "LABELS", "__version__"]

from .types import LABELS, Face, ImageResult


def __getattr__(name: str):
    # Detector pulls in OpenCV and ONNX Runtime: only when asked for.
    if name == "Detector":
        from .pipeline import Detector

        return Detector
    raise AttributeError(f"module 'maskwatch' has no attribute {name!r}")
