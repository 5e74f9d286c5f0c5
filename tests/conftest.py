from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared" / "data"
KAGGLE = SHARED / "kaggle-853"


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def example_annotations() -> dict:
    """Ground truth of the shipped example photos: file name -> list of (x1, y1, x2, y2, label)."""
    data = json.loads((EXAMPLES / "annotations.json").read_text())
    return {img["file"]: img["boxes"] for img in data["images"]}


@pytest.fixture(scope="session")
def kaggle() -> Path:
    if not (KAGGLE / "annotations.json").is_file():
        pytest.skip("../shared/data/kaggle-853 is not available")
    return KAGGLE


@pytest.fixture(scope="session")
def detector():
    import maskwatch

    return maskwatch.Detector(threads=2)
