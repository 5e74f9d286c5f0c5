"""AP50 of one detector + classifier pair with labels from the classifier, the detector's mask
head, or both: how `--labels-from` is chosen (on a part of `train`, see holdout_split.py).

    python scripts/compare_label_sources.py --detector det.onnx --model cls.onnx \\
        --annotations ../shared/data/kaggle-853/annotations.json --split holdout_split.json --part holdout
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from maskwatch.evaluate import evaluate
from maskwatch.pipeline import LABEL_SOURCES, Detector
from maskwatch.types import LABELS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", required=True, help="a detector .onnx with a mask head")
    ap.add_argument("--model", help="classifier .onnx (default: the shipped one)")
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--split")
    ap.add_argument("--part")
    ap.add_argument("--conf", type=float, default=0.05, help="face score threshold, as maskwatch evaluate (default: %(default)s)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    rows = {}
    print(
        f"{'labels from':12s} "
        + " ".join(f"{l[:12]:>12s}" for l in LABELS)
        + f" {'mAP50':>7s} {'>=20px':>7s}  matched-face recall per class"
    )
    for source in LABEL_SOURCES:
        det = Detector(classifier=args.model, detector=args.detector, conf=args.conf, labels_from=source)
        r = evaluate(det, args.annotations, args.split, args.part, progress=False)
        cm = [row[i] / max(sum(row), 1) for i, row in enumerate(r.classification)]
        rows[source] = {
            "ap50": r.ap50,
            "map50": r.map50,
            "map50_min20": r.map50_min20,
            "class_recall": dict(zip(LABELS, cm)),
            "ms_per_image": r.ms_per_image,
        }
        print(
            f"{source:12s} "
            + " ".join(f"{r.ap50[l]:12.3f}" for l in LABELS)
            + f" {r.map50:7.3f} {r.map50_min20:7.3f}  "
            + " ".join(f"{v:.3f}" for v in cm)
            + f"  ({r.ms_per_image:.1f} ms/img)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
