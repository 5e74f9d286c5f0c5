"""Tune the face detector on kaggle-853 `train` only: upscale, threshold, and box adjustment.

Prints recall at IoU 0.5 (all faces and faces >= 20 px tall), precision, and the median edge
offsets between matched annotation and detector boxes (what WIDERFACE_DETECTOR.box_adjust in specs.py is set from).

    python scripts/tune_detector.py --annotations ../shared/data/kaggle-853/annotations.json \
        --split ../shared/data/kaggle-853/split.json --part train
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from maskwatch.boxes import greedy_match, iou_matrix
from maskwatch.datasets import load_annotations
from maskwatch.detectors.retinaface import WIDERFACE_DETECTOR, RetinaFace
from maskwatch.settings import PHOTO


def run(images, upscale, threshold, adjust, raw_cache):
    # The published WIDER FACE weights: their box convention is what the adjustment corrects.
    det = RetinaFace(WIDERFACE_DETECTOR, PHOTO.but(upscale=upscale, conf=threshold), box_adjust=adjust)
    tp = tp20 = n = n20 = ndet = 0
    offsets = []
    t = 0.0
    for im in images:
        img = raw_cache.setdefault(im.key, cv2.imread(str(im.path)))
        t0 = time.perf_counter()
        fb = det.detect(img)
        t += time.perf_counter() - t0
        gt = np.array([b[:4] for b in im.boxes])
        tall = (gt[:, 3] - gt[:, 1]) >= 20
        n += len(gt)
        n20 += tall.sum()
        ndet += len(fb)
        m = greedy_match(iou_matrix(gt, fb.xyxy), 0.5)
        tp += len(m)
        tp20 += sum(tall[g] for g, _ in m)
        for g, d in greedy_match(iou_matrix(gt, fb.xyxy), 0.3):
            b = fb.xyxy[d]
            w, h = b[2] - b[0], b[3] - b[1]
            offsets.append((gt[g] - b) / [w, h, w, h])
    off = np.median(np.array(offsets), axis=0) if offsets else np.zeros(4)
    return tp / n, tp20 / n20, tp / max(ndet, 1), off, 1000 * t / len(images)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--split")
    ap.add_argument("--part", default="train")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    images = load_annotations(args.annotations, args.split, args.part if args.split else None)
    if args.limit:
        images = images[: args.limit]
    cache = {}
    print("upscale thr  adjust                    recall recall>=20 precision  ms/img  median offsets (dx1 dy1 dx2 dy2)")
    _, _, _, off, _ = run(images, 2.0, 0.5, (0, 0, 0, 0), cache)
    fitted = tuple(round(float(v), 3) for v in off)
    for up in (1.5, 2.0, 2.5):
        for thr in (0.3, 0.5, 0.7):
            for adj in ((0, 0, 0, 0), fitted):
                r, r20, p, o, ms = run(images, up, thr, adj, cache)
                print(f"{up:7.1f} {thr:4.1f}  {str(adj):24s} {r:6.3f} {r20:10.3f} {p:9.3f} {ms:7.1f}  {np.round(o, 3)}")


if __name__ == "__main__":
    main()
