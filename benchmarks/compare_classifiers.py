"""Several classifiers through the whole pipeline on the same photos, each compared with the first
on the same bootstrap resamples of the photos (how the model card's choices were tested).

    python benchmarks/compare_classifiers.py --annotations ../shared/data/kaggle-853/annotations.json \\
        --split holdout_split.json --part holdout --detector fit_det.onnx  base.onnx candidate1.onnx candidate2.onnx

A model may be given as CLASSIFIER@DETECTOR (e.g. `shipped@runs/det.onnx`) to compare face
detectors, or pairs of both, the same way; CLASSIFIER@DETECTOR@single runs that one with one
detector pass (no coarse pass, as before the scale pyramid).

For each model: AP50 per class, mAP50, and (from the second on) mAP50 minus the first's with its
95 % paired interval and the share of resamples where it came out ahead. A difference whose
interval spans 0 is not one this data can tell from noise.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from maskwatch.evaluate import evaluate, paired_differences
from maskwatch.pipeline import Detector
from maskwatch.types import LABELS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="classifier .onnx files; the first is the reference ('shipped' = the shipped one)")
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--split")
    ap.add_argument("--part")
    ap.add_argument("--detector", help="face detector name or .onnx (default: the shipped one)")
    ap.add_argument("--conf", type=float, default=0.05, help="face score threshold, as maskwatch evaluate (default: %(default)s)")
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--classes", action="store_true", help="also the paired interval of each class's AP50 difference")
    args = ap.parse_args()
    results, rows = [], {}
    print(f"{'model':40s} " + " ".join(f"{l[:12]:>12s}" for l in LABELS) + f" {'mAP50':>7s}  vs first: diff [95 % paired]  ahead")
    for model in args.models:
        classifier, _, rest = model.partition("@")
        detector, _, mode = rest.partition("@")
        det = Detector(model=None if classifier == "shipped" else classifier, detector=detector or args.detector, conf=args.conf,
                       threads=args.threads, pyramid=mode != "single")
        r = evaluate(det, args.annotations, args.split, args.part, progress=False)
        name = "@".join(Path(part).name for part in model.split("@"))
        line = f"{name[-40:]:40s} " + " ".join(f"{r.ap50[l]:12.3f}" for l in LABELS) + f" {r.map50:7.4f}"
        row = {"ap50": r.ap50, "map50": r.map50}
        if results:
            ref = results[0]
            diffs = paired_differences(r.n_images, ref.gts, ref.dets, r.dets, args.resamples)
            d = diffs["mAP50"]
            line += f"  {r.map50 - ref.map50:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]  {d['b_ahead']:.2f}"
            if args.classes:
                line += "".join(f"\n{'':4s}{label:36s} {r.ap50[label] - ref.ap50[label]:+.4f} "
                                f"[{diffs[label]['low']:+.4f}, {diffs[label]['high']:+.4f}]  {diffs[label]['b_ahead']:.2f}"
                                for label in LABELS)
            row["vs_first"] = {"diff": r.map50 - ref.map50, **d, "classes": {l: diffs[l] for l in LABELS}}
        results.append(r)
        rows[model] = row
        print(line, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"resamples": args.resamples, "models": rows}, indent=1))


if __name__ == "__main__":
    main()
