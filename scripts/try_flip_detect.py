"""Experiment (#29): does a mirrored second detector pass rank small faces better?

Each detector pass also runs on the mirrored photo; a face's score becomes the mean of its best
match in each pass (0 where a pass has none, IoU >= 0.5) and its box the mean of the two matches,
so a face found both ways rises above a box only one way finds. It patches the shipped detector
for this run only and writes the same dump as `scripts/tune_operating_point.py dump`, so the two
can be compared with `tune_operating_point.py curve` (and `compare`):

    python scripts/try_flip_detect.py --annotations ../shared/data/ilc2021/annotations.json:val \
        --classifier runs/cls_noval.onnx --out runs/op_val_flip.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from maskwatch.boxes import iou_matrix  # noqa: E402
from maskwatch.detectors.base import FaceBoxes  # noqa: E402
from maskwatch.detectors.retinaface import adjust_boxes  # noqa: E402

SWAP = [1, 0, 2, 4, 3]  # landmarks: eyes and mouth corners change sides in a mirror


def _candidates(det, image: np.ndarray, scale: float):
    net_in, (ph, pw) = det.prepare(image, scale)
    loc, conf, lmk, *_ = det._session.run(None, {det._input_name: net_in})
    scores = conf[0, :, 1]
    keep = np.flatnonzero(scores > det.score_threshold)
    priors = det._priors(ph, pw)
    boxes, points = det._decode(loc[0, keep], lmk[0, keep], priors[keep], pw, ph)
    return boxes, scores[keep], points


def flipped_detect_at(det, image: np.ndarray, scale: float, min_h: float, max_h: float):
    nw = max(1, round(image.shape[1] * scale))
    b1, s1, p1 = _candidates(det, image, scale)
    b2, s2, p2 = _candidates(det, cv2.flip(image, 1), scale)
    b2 = np.column_stack([nw - b2[:, 2], b2[:, 1], nw - b2[:, 0], b2[:, 3]])
    p2 = p2[:, SWAP].copy()  # (n, 5, 2)
    p2[..., 0] = nw - p2[..., 0]
    boxes = np.concatenate([b1, b2])
    if not len(boxes):
        return det._none()
    scores = np.concatenate([s1, s2])
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
    idx = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), det.score_threshold, det.nms_iou), np.int64).reshape(-1)
    out_b, out_s, out_p = [], [], []
    for k in idx:
        parts = []
        for b, s, p in ((b1, s1, p1), (b2, s2, p2)):
            if len(b):
                iou = iou_matrix(boxes[k : k + 1], b)[0]
                j = int(np.argmax(np.where(iou >= 0.5, s, -1)))
                if iou[j] >= 0.5:
                    parts.append((b[j], s[j], p[j]))
        out_s.append(sum(s for _, s, _ in parts) / 2)
        out_b.append(np.mean([b for b, _, _ in parts], 0))
        out_p.append(np.mean([p for _, _, p in parts], 0))
    out_b, out_s, out_p = np.array(out_b), np.array(out_s), np.array(out_p)
    ok = out_s > det.score_threshold
    out_b = adjust_boxes(out_b[ok] / scale, det.box_adjust)
    found = FaceBoxes(out_b.astype(np.float32), out_s[ok].astype(np.float32), (out_p[ok] / scale).astype(np.float32), None)
    return found[np.flatnonzero((found.heights >= min_h) & (found.heights < max_h))]


def main() -> None:
    import tune_operating_point as top

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--detector", default="finetuned")
    ap.add_argument("--classifier")
    ap.add_argument("--corrections")
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-flip", action="store_true", help="the plain detector, timed the same way")
    args = ap.parse_args()
    from maskwatch.detectors import retinaface

    if not args.no_flip:
        retinaface.RetinaFace._detect_at = flipped_detect_at
    t0 = time.perf_counter()
    top.dump(args)
    print(f"{time.perf_counter() - t0:.1f} s in all")


if __name__ == "__main__":
    main()
