"""Box maths on xyxy arrays."""

from __future__ import annotations

import numpy as np


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection areas (n, m) of xyxy boxes a (n, 4) and b (m, 4), and each set's areas."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    return inter, area_a, area_b


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (n, 4) against every box in b (m, 4), xyxy."""
    inter, area_a, area_b = _intersections(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def inside_share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m): the share of each box of a that lies inside each box of b (0 for empty boxes)."""
    inter, area_a, _ = _intersections(a, b)
    return np.where(area_a[:, None] > 0, inter / np.maximum(area_a, 1e-12)[:, None], 0.0)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col) matched greedily by descending IoU, each used once, IoU >= threshold."""
    pairs = []
    if iou.size == 0:
        return pairs
    order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
    used_r, used_c = set(), set()
    for r, c in order:
        if iou[r, c] < threshold:
            break
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pairs.append((int(r), int(c)))
    return pairs


def square_crop_box(box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A square box around `box` grown by `margin` of its longer side (may extend off-image)."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    side = max(side, 2.0)
    half = side / 2
    return (int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half)))
