"""The detector registry, the face-box container, and the second backend (YuNet)."""

import numpy as np
import pytest

from maskwatch.detectors import BACKENDS, FaceBoxes, detector_name, load_detector
from maskwatch.imageio import read_image
from maskwatch.settings import PHOTO


def boxes(n, landmarks=True):
    xyxy = np.array([[10 * i, 0, 10 * i + 8, 9] for i in range(n)], np.float32).reshape(-1, 4)
    pts = np.zeros((n, 5, 2), np.float32) if landmarks else None
    return FaceBoxes(xyxy, np.linspace(0.9, 0.5, n).astype(np.float32), pts)


def test_faceboxes_index_empty_merge():
    fb = boxes(4)
    assert len(fb[1:]) == 3 and len(fb[[0, 2]]) == 2 and len(fb[fb.scores > 0.7]) == 2
    assert len(fb[0]) == 1 and fb[0].xyxy.shape == (1, 4)  # one face is still a container
    assert len(FaceBoxes.empty()) == 0 and FaceBoxes.empty(mask_classes=3).mask_probs.shape == (0, 3)
    merged = FaceBoxes.merge([fb, boxes(2)])
    assert len(merged) == 6 and merged.landmarks.shape == (6, 5, 2)
    assert FaceBoxes.merge([fb, boxes(2, landmarks=False)]).landmarks is None  # no holes
    assert np.allclose(fb.heights, 9)
    with pytest.raises(ValueError, match=r"xyxy has shape \(3, 4\), expected \(4, 4\)"):
        FaceBoxes(fb.xyxy[:3], fb.scores)


def test_the_registry_names_without_loading():
    assert set(BACKENDS) >= {"finetuned", "widerface", "yunet"}
    assert detector_name("finetuned") == "retinaface-mobilenet0.25-maskwatch-ft2"
    assert detector_name("my/det.onnx") == "det"
    with pytest.raises(ValueError, match="unknown detector 'nope': use finetuned, widerface, yunet"):
        detector_name("nope")


def test_yunet_finds_the_faces_of_a_close_up_and_a_group(examples):
    pytest.importorskip("yuface")
    det = load_detector(PHOTO.but(detector="yunet", conf=0.5, upscale=1.0))
    assert det.name.startswith("yunet") and det.mask_labels is None
    close = det.detect(read_image(examples / "closeup_563.jpg"))
    assert len(close) == 1 and close.heights[0] > 100
    group = det.detect(read_image(examples / "group_698.jpg"))
    assert len(group) >= 2 and (group.scores >= 0.5).all() and (np.diff(group.scores) <= 0).all()
    h, w = read_image(examples / "group_698.jpg").shape[:2]
    assert (group.xyxy[:, [0, 2]] <= w).all() and (group.xyxy[:, [1, 3]] <= h).all()


def test_yunet_through_the_whole_pipeline(examples, tmp_path):
    pytest.importorskip("yuface")
    from maskwatch.cli import main

    out = tmp_path / "r.json"
    assert main(["image", str(examples), "--detector", "yunet", "--no-save", "-q", "--json", str(out), "--threads", "2"]) == 0
    import json

    doc = json.loads(out.read_text())
    assert doc["model"]["detector"].startswith("yunet") and doc["settings"]["detector"] == "yunet"
    assert sum(len(im["faces"]) for im in doc["images"]) >= 5
