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


@pytest.fixture(scope="session")
def walk_clip(tmp_path_factory, examples):
    """A masked face walks left to right across the middle, then a bare face right to left,
    then the masked one again left to right; each passes x = 0.5 once, in the lower half."""
    from maskwatch.clips import face_sprite, make_walk_clip
    from maskwatch.imageio import read_image

    sprites = [
        face_sprite(read_image(examples / "closeup_563.jpg"), (70, 53, 204, 205)),  # with_mask
        face_sprite(read_image(examples / "street_717.jpg"), (76, 128, 142, 185)),  # without_mask
    ]
    path = tmp_path_factory.mktemp("walk") / "walk.avi"
    walks = [(0, 0.12, 0.88, 0.62, 0, 59), (1, 0.88, 0.12, 0.62, 100, 159), (0, 0.12, 0.88, 0.62, 200, 259)]
    make_walk_clip(sprites, walks, path, frames=300)
    return path


@pytest.fixture
def broker(tmp_path):
    """A real Mosquitto on a free loopback port (tests/mqtt_broker.py)."""
    from mqtt_broker import MOSQUITTO, Broker

    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (setup.sh installs it with apt where it can: apt-get install mosquitto)")
    b = Broker(tmp_path).start()
    yield b
    b.stop()
