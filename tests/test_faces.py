import cv2
import numpy as np
import pytest

from maskwatch.boxes import greedy_match, iou_matrix
from maskwatch.faces import FaceDetector


@pytest.fixture(scope="module")
def faces():
    return FaceDetector(threads=2)


def test_finds_the_annotated_faces_in_real_photos(faces, examples, example_annotations):
    found = total = 0
    for name, boxes in example_annotations.items():
        image = cv2.imread(str(examples / name))
        gt = np.array([b[:4] for b in boxes], float)
        fb = faces.detect(image)
        assert fb.xyxy.shape[1] == 4 and fb.landmarks.shape[1:] == (5, 2)
        assert np.all(np.diff(fb.scores) <= 0), "faces sorted by score"
        assert np.all(fb.xyxy[:, [0, 2]] <= image.shape[1]) and np.all(fb.xyxy >= 0)
        found += len(greedy_match(iou_matrix(gt, fb.xyxy), 0.5))
        total += len(gt)
    # 31 annotated faces, all >= 21 px tall (26 found when written; at 1x upscale far fewer).
    assert found / total >= 0.8, f"found {found}/{total}"


def test_no_faces_in_a_blank_or_tiny_image(faces):
    assert len(faces.detect(np.full((240, 320, 3), 127, np.uint8))) == 0
    assert len(faces.detect(np.zeros((3, 5, 3), np.uint8))) == 0


def test_upscale_finds_more_small_faces(examples, example_annotations):
    image = cv2.imread(str(examples / "crowd_702.jpg"))
    gt = np.array([b[:4] for b in example_annotations["crowd_702.jpg"]], float)
    small = FaceDetector(upscale=0.5, threads=2).detect(image)
    big = FaceDetector(upscale=2.0, threads=2).detect(image)
    hits = lambda fb: len(greedy_match(iou_matrix(gt, fb.xyxy), 0.5))  # noqa: E731
    assert hits(big) > hits(small)


def test_big_photo_is_capped_by_max_side(examples):
    image = cv2.imread(str(examples / "street_717.jpg"))
    big = cv2.resize(image, None, fx=4, fy=4)
    det = FaceDetector(max_side=640, threads=2)
    assert det.scale_for(*big.shape[:2]) == pytest.approx(640 / max(big.shape[:2]))
    fb = det.detect(big)
    assert len(fb) >= 3  # the four large faces of this street scene are still found
    assert fb.xyxy.max() <= max(big.shape[:2])


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8)])
def test_rejects_wrong_shapes(faces, bad):
    with pytest.raises(ValueError, match="BGR image"):
        faces.detect(bad)


def test_bad_options():
    with pytest.raises(ValueError):
        FaceDetector(upscale=0)
    with pytest.raises(ValueError):
        FaceDetector(score_threshold=1.5)
