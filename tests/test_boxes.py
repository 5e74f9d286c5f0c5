import numpy as np
import pytest

from maskwatch.boxes import greedy_match, iou_matrix, square_crop_box
from maskwatch.detectors.retinaface import adjust_boxes, make_priors


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (10, 10, 20, 20), 0.0),  # touching corners
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
        ((0, 0, 10, 10), (2, 2, 8, 8), 36 / 100),  # contained
        ((0, 0, 0, 0), (0, 0, 10, 10), 0.0),  # degenerate box
    ],
)
def test_iou(a, b, expected):
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_iou_matrix_shape_and_empty():
    assert iou_matrix(np.zeros((3, 4)), np.zeros((0, 4))).shape == (3, 0)
    m = iou_matrix(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[20, 20, 30, 30]]))
    assert m[:, 0].tolist() == [0.0, 1.0]


def test_greedy_match_prefers_best_pairs_and_respects_threshold():
    iou = np.array([[0.9, 0.6], [0.7, 0.2], [0.1, 0.05]])
    assert sorted(greedy_match(iou, 0.5)) == [(0, 0)]  # row 1's best (col 0) is taken; 0.2 < 0.5
    assert sorted(greedy_match(iou, 0.15)) == [(0, 0), (1, 1)]
    assert greedy_match(np.zeros((0, 0)), 0.5) == []


@pytest.mark.parametrize(
    "box, margin, expected",
    [
        ((10, 10, 30, 30), 0.0, (10, 10, 30, 30)),
        ((10, 10, 30, 30), 0.25, (5, 5, 35, 35)),
        ((0, 0, 10, 20), 0.0, (-5, 0, 15, 20)),  # tall box -> square on the longer side
    ],
)
def test_square_crop_box(box, margin, expected):
    assert square_crop_box(box, margin, 100, 100) == expected


@pytest.mark.parametrize(
    "adjust, expected",
    [
        ((0, 0, 0, 0), (10, 20, 30, 60)),
        ((0, 0.25, 0, 0.1), (10, 30, 30, 64)),  # box 20 wide, 40 tall
        ((-0.5, 0, 0.5, 0), (0, 20, 40, 60)),
    ],
)
def test_adjust_boxes(adjust, expected):
    out = adjust_boxes(np.array([[10, 20, 30, 60]], np.float32), adjust)
    assert out[0].tolist() == pytest.approx(expected)


def test_priors_match_retinaface_layout():
    # 64x96 input: strides 8/16/32 give 8x12, 4x6, 2x3 cells with 2 anchors each.
    p = make_priors(64, 96, (8, 16, 32), ((16, 32), (64, 128), (256, 512)))
    assert p.shape == ((96 + 24 + 6) * 2, 4)
    # first cell, two sizes, then the next cell to the right
    assert p[0].tolist() == pytest.approx([4 / 96, 4 / 64, 16 / 96, 16 / 64])
    assert p[1].tolist() == pytest.approx([4 / 96, 4 / 64, 32 / 96, 32 / 64])
    assert p[2][:2].tolist() == pytest.approx([12 / 96, 4 / 64])
