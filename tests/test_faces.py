import cv2
import numpy as np
import pytest

from maskwatch.boxes import greedy_match, iou_matrix
from maskwatch.detectors.retinaface import FINETUNED_DETECTOR, RetinaFace
from maskwatch.settings import PHOTO


def FaceDetector(score_threshold=0.5, **settings):
    """The shipped RetinaFace at the detector's own threshold, with some settings changed."""
    return RetinaFace(FINETUNED_DETECTOR, PHOTO.but(conf=score_threshold, **settings))


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
    # 32 annotated faces, all >= 21 px tall (at 1x upscale far fewer are found).
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


def test_close_up_is_one_face(examples, example_annotations):
    # A face 68 % of the photo's height (kaggle-853 test, never trained on): one box, on the face.
    image = cv2.imread(str(examples / "closeup_563.jpg"))
    gt = np.array([b[:4] for b in example_annotations["closeup_563.jpg"]], float)
    fb = FaceDetector(threads=2).detect(image)
    assert len(fb) == 1, fb.xyxy
    assert iou_matrix(gt, fb.xyxy)[0, 0] >= 0.5


def test_pyramid_adds_a_coarse_pass_only_where_a_face_could_outgrow_the_fine_one():
    det = FaceDetector(threads=1)
    crowd = det.scales_for(225, 400)  # kaggle-853 size: 2.25x makes a photo-tall face 506 px
    assert len(crowd) == 2 and crowd[0][0] == pytest.approx(2.25) and crowd[1][0] < crowd[0][0]
    (fine, lo, hi), (coarse, clo, chi) = crowd
    assert lo == 0 and chi == np.inf and clo < hi, "the two passes' face sizes overlap, so no face falls between"
    assert det.scales_for(480, 640)[0][0] == pytest.approx(2.0)  # capped by max_side 1280
    assert len(FaceDetector(upscale=1.0, threads=1).scales_for(480, 640)) == 1  # video frames: one pass
    assert len(FaceDetector(pyramid=False, threads=1).scales_for(225, 400)) == 1


def test_parts_of_a_face_inside_a_coarse_box_are_dropped():
    from maskwatch.detectors.retinaface import _inside_coarser

    boxes = np.array(
        [
            [100, 100, 300, 320],  # coarse: the whole face
            [120, 150, 200, 220],  # fine: an eye region inside it
            [280, 100, 360, 180],  # fine: a neighbour overlapping its edge
            [10, 10, 40, 45],
        ],
        np.float32,
    )  # fine: a small face elsewhere
    assert _inside_coarser(boxes, np.array([1, 0, 0, 0])).tolist() == [False, True, False, False]
    assert not _inside_coarser(boxes, np.zeros(4, int)).any()


def test_max_side_must_be_usable():
    with pytest.raises(ValueError, match="max_side"):
        FaceDetector(max_side=0)


def test_face_boxes_check_their_shapes():
    from maskwatch.detectors import FaceBoxes

    FaceBoxes(np.zeros((2, 4)), np.zeros(2), np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match=r"xyxy has shape \(3, 4\), expected \(2, 4\)"):
        FaceBoxes(np.zeros((3, 4)), np.zeros(2), np.zeros((2, 5, 2)))
