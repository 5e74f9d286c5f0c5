import numpy as np
import pytest

import maskwatch
from maskwatch.boxes import greedy_match, iou_matrix
from maskwatch.classify import MaskClassifier
from maskwatch.types import LABELS


def test_shipped_model_carries_its_metadata():
    clf = MaskClassifier(threads=1)
    assert clf.labels == LABELS
    assert clf.input_size == 112
    assert 0 <= clf.margin < 1


def test_detect_path_and_array_agree(detector, examples):
    import cv2

    path = examples / "street_717.jpg"
    a = detector.detect(str(path))
    b = detector.detect(cv2.imread(str(path)))
    assert [f.box for f in a] == [f.box for f in b]
    for f in a:
        assert isinstance(f, maskwatch.Face)
        assert f.label in LABELS and f.label == max(f.probs, key=f.probs.get)
        assert sum(f.probs.values()) == pytest.approx(1.0, abs=1e-4)
        assert 0 <= f.face_score <= 1 and f.score == pytest.approx(f.probs[f.label])


def test_labels_of_matched_faces_are_mostly_right(detector, examples, example_annotations):
    """Real photos with known faces: the classifier must get most of the matched faces right."""
    correct = total = 0
    for name, boxes in example_annotations.items():
        faces = detector.detect(str(examples / name))
        gt = np.array([b[:4] for b in boxes], float)
        pairs = greedy_match(iou_matrix(gt, np.array([f.box for f in faces]).reshape(-1, 4)), 0.5)
        for g, d in pairs:
            truth = boxes[g][4].replace("mask_weared_incorrect", "mask_worn_incorrectly")
            correct += faces[d].label == truth
            total += 1
    assert total >= 20
    assert correct / total >= 0.75, f"{correct}/{total}"


def test_missing_file_raises_one_line_value_error(detector, tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        detector.detect(tmp_path / "nope.jpg")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        maskwatch.Detector(model=tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load classifier"):
        maskwatch.Detector(model=bad)


def test_flip_averages_the_mirrored_crop_where_unsure(examples):
    import cv2

    image = cv2.imread(str(examples / "street_717.jpg"))
    plain, flip = MaskClassifier(threads=1, flip=False), MaskClassifier(threads=1, flip=True)
    boxes = np.array([[10, 80, 75, 175], [80, 120, 140, 185], [212, 77, 280, 154], [294, 83, 373, 167]], np.float32)
    crops = plain.crops(image, boxes)
    first = plain.predict_crops(crops)
    mirrored = plain.predict_crops(np.ascontiguousarray(crops[:, :, ::-1]))
    assert not np.allclose(first, mirrored, atol=1e-4)  # the mirror is a second look
    unsure = first.max(1) < flip.flip_below
    want = np.where(unsure[:, None], (first + mirrored) / 2, first)
    np.testing.assert_allclose(flip.predict_crops(crops), want, atol=1e-5)
    flip.flip_below = 1.01  # every crop looked at twice
    np.testing.assert_allclose(flip.predict_crops(crops), (first + mirrored) / 2, atol=1e-5)


def test_classifier_has_one_name_and_an_older_alias(tmp_path):
    with pytest.raises(ValueError, match="give the classifier once"):
        maskwatch.Detector(classifier="a.onnx", model="b.onnx")
    with pytest.raises(ValueError, match="not found"):
        maskwatch.Detector(classifier=tmp_path / "none.onnx")


def test_find_faces_on_a_shrunk_frame_gives_boxes_in_the_frames_pixels(examples):
    """A site camera's detect_scale: the same faces, in full-frame pixels, from a frame half as wide."""
    from maskwatch import Detector
    from maskwatch.boxes import iou_matrix
    from maskwatch.imageio import read_image
    from maskwatch.settings import VIDEO

    det = Detector(VIDEO, threads=2)
    image = read_image(examples / "closeup_563.jpg")
    full, half = det.find_faces(image), det.find_faces(image, 0.5)
    assert len(full) >= 1 and len(half) == len(full)
    assert iou_matrix(half.xyxy, full.xyxy).max(1).min() >= 0.75
    assert half.landmarks is not None and abs(half.landmarks[0] - full.landmarks[0]).max() < 0.1 * full.heights[0]
