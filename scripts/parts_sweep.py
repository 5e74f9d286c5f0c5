"""Choose how the part check joins the classifier, on photos neither model learnt from (#47).

One pass of the pipeline over the photos keeps, per detected face, the classifier's probabilities,
the face score and the part check's answers; every combination (mode x weight) is then scored
from those with the evaluator's own COCO AP50, without running the models again.

    python scripts/parts_sweep.py --classifier runs/cls_hold.onnx --parts runs/parts_a.onnx \\
        --annotations runs/ilc_hold/annotations.json:train_b
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def collect(detector, annotations: str):
    from maskwatch.boxes import greedy_match, iou_matrix
    from maskwatch.datasets import load_annotations
    from maskwatch.face_score import SizeTrust, face_scores
    from maskwatch.imageio import read_image
    from maskwatch.types import LABELS

    gts, faces = [], []  # faces: (image id, box, face score, probs, parts, true class or -1)
    for img_id, item in enumerate(load_annotations(annotations), start=1):
        for x1, y1, x2, y2, label in item.boxes:
            gts.append((img_id, x1, y1, x2, y2, LABELS.index(label)))
        image = read_image(item.path)
        found = detector.face_detector.detect(image)
        probs, faceness, parts = detector._probs_and_faceness(image, found)
        scores = face_scores(found.scores, faceness, found.heights, SizeTrust(*detector.settings.face_trust))
        keep = scores >= detector.settings.conf
        gt = np.array([b[:4] for b in item.boxes], np.float64).reshape(-1, 4)
        truth = {d: LABELS.index(item.boxes[g][4]) for g, d in greedy_match(iou_matrix(gt, found.xyxy[keep]), 0.5)}
        for k, i in enumerate(np.flatnonzero(keep)):
            faces.append((img_id, tuple(found.xyxy[i]), float(scores[i]), probs[i], parts[i], truth.get(k, -1)))
    return len(load_annotations(annotations)), gts, faces


def score(n_images, gts, faces, mode: str, weight: float) -> dict:
    from maskwatch.evaluate import _class_dets, coco_ap50
    from maskwatch.parts import combine

    found = []
    for img_id, box, fs, p, part, truth in faces:
        if weight > 0 and not np.isnan(part).any():
            p = combine(p[None], part[None], weight, mode)[0]
        found.append((img_id, box, fs, list(map(float, p)), truth))
    ap, _ = coco_ap50(n_images, gts, _class_dets(found))
    return {"map50": float(np.mean(list(ap.values()))), **{k: round(float(v), 4) for k, v in ap.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--parts", required=True)
    ap.add_argument("--annotations", nargs="+", required=True)
    ap.add_argument("--weights", type=float, nargs="+", default=[0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5])
    ap.add_argument("--json")
    args = ap.parse_args()

    from maskwatch.pipeline import Detector
    from maskwatch.settings import EVALUATION

    detector = Detector(EVALUATION, classifier=args.classifier, parts=args.parts, part_weight=0.0)
    out = {}
    for data in args.annotations:
        n, gts, faces = collect(detector, data)
        rows = {"base": score(n, gts, faces, "head", 0.0)}
        for mode in ("head", "factored"):
            for w in args.weights:
                rows[f"{mode}:{w:g}"] = score(n, gts, faces, mode, w)
        out[data] = rows
        print(data)
        for name, r in rows.items():
            print(f"  {name:16s} mAP50 {r['map50']:.4f}  " + "  ".join(f"{k} {v:.3f}" for k, v in r.items() if k != "map50"))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
