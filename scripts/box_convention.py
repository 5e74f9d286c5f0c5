"""How a detector's boxes sit on each data set's annotated faces: median edge offsets (detector
minus annotation, as a share of the annotated width/height) and median IoU of matched faces.

Two data sets that box faces differently show up as different offsets for the same detector.

    python scripts/box_convention.py --detector widerface --raw-boxes \\
        --data ../shared/data/kaggle-853/annotations.json:train ../shared/data/ilc2021/annotations.json:train
"""

from __future__ import annotations

import argparse

import numpy as np

from maskwatch.boxes import greedy_match, iou_matrix
from maskwatch.datasets import load_annotations
from maskwatch.detectors import load_detector
from maskwatch.imageio import read_image
from maskwatch.settings import PHOTO


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="annotations.json[:PART]")
    ap.add_argument("--detector", default=None)
    ap.add_argument("--raw-boxes", action="store_true", help="the detector's boxes without its box adjustment")
    ap.add_argument("--min-height", type=float, default=24, help="only faces at least this tall (px)")
    ap.add_argument("--limit", type=int, default=400, help="photos per set")
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    det = load_detector(PHOTO.but(detector=args.detector, conf=0.5, threads=args.threads, raw_boxes=args.raw_boxes))
    print(f"{'data':48s} {'faces':>6s}  median offset (x1, y1, x2, y2) / size   median IoU")
    for data in args.data:
        offsets, ious = [], []
        for item in load_annotations(data)[: args.limit]:
            found = det.detect(read_image(item.path)).xyxy.astype(np.float64)
            gt = np.array([b[:4] for b in item.boxes], np.float64).reshape(-1, 4)
            gt = gt[gt[:, 3] - gt[:, 1] >= args.min_height]
            if not len(gt) or not len(found):
                continue
            iou = iou_matrix(gt, found)
            for g, d in greedy_match(iou, 0.4):
                w, h = gt[g, 2] - gt[g, 0], gt[g, 3] - gt[g, 1]
                offsets.append((found[d] - gt[g]) / np.array([w, h, w, h]))
                ious.append(iou[g, d])
        med = np.median(np.array(offsets).reshape(-1, 4), 0)
        print(f"{data[-48:]:48s} {len(ious):6d}  ({', '.join(f'{v:+.3f}' for v in med)})   {np.median(ious):.3f}")


if __name__ == "__main__":
    main()
