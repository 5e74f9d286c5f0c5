"""The part check (#47) measured against the classifier alone: weight, accuracy, time, reasons.

    python benchmarks/bench_parts.py --classifier runs/cls_hold.onnx --parts runs/parts.onnx \\
        --tune runs/ilc_hold/annotations.json:train_b --out runs/bench_parts

1. The weight: `maskwatch evaluate --compare CLS+off CLS+PARTS:W ...` on `--tune` (photos that
   neither model learnt from), the W with the highest mAP50 kept (ties: the smaller W).
2. Accuracy at that weight, paired with bootstrap intervals, on ilc2021 `val` and kaggle-853
   `test` (`--report`); the classifier must not have seen them (the val-free recipe).
3. Time per photo over kaggle-853 `test`, with and without the part check, in one run
   (alternating photo by photo, the pipeline as `maskwatch image` runs it, models loaded once).
4. Reasons: a contact sheet of every face annotated as worn incorrectly in ilc2021 `val` that the
   pipeline labels so, its reason written under it, to check by eye (`reasons.png`), and
   the reasons counted (`reasons.json`).

Everything goes to --out (the compare tables as JSON, `report.json` with the figures).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REPORT_ON = [str(DATA / "ilc2021/annotations.json:val"), str(DATA / "kaggle-853/annotations.json:test")]


def compare(specs: list[str], annotations: str, out: Path, bootstrap: int) -> dict:
    cmd = [sys.executable, "-m", "maskwatch.cli", "evaluate", "--annotations", annotations, "--compare", *specs]
    cmd += ["--bootstrap", str(bootstrap), "--json", str(out)]
    print("$ maskwatch " + " ".join(cmd[3:]), flush=True)
    r = subprocess.run(cmd, text=True, capture_output=True)
    print(r.stdout, end="", flush=True)
    if r.returncode != 0:
        sys.exit(f"evaluate failed: {r.stderr.strip()}")
    return json.loads(out.read_text())["models"]


def tune(classifier: str, parts: str, tune_on: str, weights: list[float], out: Path, bootstrap: int) -> tuple[float, dict]:
    specs = [f"{classifier}+off"] + [f"{classifier}+{parts}:{w:g}" for w in weights]
    rows = compare(specs, tune_on, out / "tune.json", bootstrap)
    scores = {w: rows[name]["map50"] for w, name in zip(weights, list(rows)[1:])}
    best = max(weights, key=lambda w: (round(scores[w], 4), -w))
    return best, {"base_map50": rows[list(rows)[0]]["map50"], "map50_by_weight": {f"{w:g}": round(s, 4) for w, s in scores.items()}}


def timing(classifier: str, parts: str, weight: float, annotations: str, limit: int) -> dict:
    """Per-photo time (read, detect, classify, draw) with and without the part check, alternating."""
    import cv2

    from maskwatch.annotate import FaceAnnotator
    from maskwatch.datasets import load_annotations
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector

    items = load_annotations(annotations)[:limit]
    runs = {"off": Detector(classifier=classifier, parts="off"), "on": Detector(classifier=classifier, parts=parts, part_weight=weight)}
    draw = FaceAnnotator()
    times = {k: [] for k in runs}
    for d in runs.values():  # warm-up
        d.detect(read_image(items[0].path))
    for item in items:
        for k, d in runs.items():
            t = time.perf_counter()
            image = read_image(item.path)
            cv2.imencode(".jpg", draw.annotate(image, d.detect(image)))
            times[k].append(time.perf_counter() - t)
    mean = {k: statistics.mean(v) * 1000 for k, v in times.items()}
    return {
        "photos": len(items),
        "ms_per_photo": {k: round(v, 1) for k, v in mean.items()},
        "change": round(mean["on"] / mean["off"] - 1, 4),
    }


def reasons(classifier: str, parts: str, weight: float, annotations: str, out: Path) -> dict:
    """Faces annotated incorrect and labelled so: their reasons, and a sheet to check them by eye."""
    import cv2
    import numpy as np

    from maskwatch.boxes import greedy_match, iou_matrix
    from maskwatch.crops import crop_face
    from maskwatch.datasets import load_annotations
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector

    d = Detector(classifier=classifier, parts=parts, part_weight=weight)
    tiles, counts, truth_faces, checked = [], {}, 0, 0
    for item in load_annotations(annotations):
        gts = [b for b in item.boxes if b[4] == "mask_worn_incorrectly"]
        if not gts:
            continue
        truth_faces += len(gts)
        image = read_image(item.path)
        faces = d.detect(image)
        if not faces:
            continue
        iou = iou_matrix(np.array([g[:4] for g in gts]), np.array([f.box for f in faces]))
        for _, k in greedy_match(iou, 0.5):
            f = faces[k]
            if f.label != "mask_worn_incorrectly":
                continue
            why = f.reason or "(not checked: small face)"
            checked += f.reason is not None
            counts[why] = counts.get(why, 0) + 1
            tile = crop_face(image, f.box, 0.15, 128)
            tile = cv2.copyMakeBorder(tile, 0, 18, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            cv2.putText(tile, f"{len(tiles)} {why}"[:22], (2, 141), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(tile)
    if tiles:
        cols = 10
        blank = np.full_like(tiles[0], 255)
        rows = [np.hstack(tiles[i : i + cols] + [blank] * (cols - len(tiles[i : i + cols]))) for i in range(0, len(tiles), cols)]
        cv2.imwrite(str(out / "reasons.png"), np.vstack(rows))
    report = {"annotated_incorrect": truth_faces, "labelled_incorrect": len(tiles), "with_a_reason": checked, "reasons": counts}
    (out / "reasons.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classifier", required=True, help="a classifier that has not seen the --tune and --report photos")
    ap.add_argument("--parts", required=True, help="the part check .onnx (maskwatch train-parts)")
    ap.add_argument("--tune", help="annotations[:PART] to choose the weight on; without it, --weight")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0, 1.5])
    ap.add_argument("--weight", type=float, default=1.0, help="the weight, when there is no --tune")
    ap.add_argument("--report", nargs="+", default=REPORT_ON)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--time-photos", type=int, default=266, help="kaggle-853 test photos timed (default: all)")
    ap.add_argument("--out", type=Path, default=Path("runs/bench_parts"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"classifier": args.classifier, "parts": args.parts}
    weight = args.weight
    if args.tune:
        weight, report["tune"] = tune(args.classifier, args.parts, args.tune, args.weights, args.out, args.bootstrap)
        print(f"weight chosen on {args.tune}: {weight:g} {report['tune']}", flush=True)
    report["weight"] = weight
    report["accuracy"] = {}
    for i, data in enumerate(args.report):
        rows = compare(
            [f"{args.classifier}+off", f"{args.classifier}+{args.parts}:{weight:g}"],
            data,
            args.out / f"report_{i}.json",
            args.bootstrap,
        )
        base, new = rows.values()
        report["accuracy"][data] = {
            "base": {"map50": base["map50"], **base["ap50"]},
            "parts": {"map50": new["map50"], **new["ap50"]},
            "vs_base": new["vs_first"],
        }
    report["time"] = timing(args.classifier, args.parts, weight, str(DATA / "kaggle-853/annotations.json:test"), args.time_photos)
    print(f"time per photo: {report['time']}", flush=True)
    report["reasons"] = reasons(args.classifier, args.parts, weight, REPORT_ON[0], args.out)
    print(f"reasons on ilc2021 val: {report['reasons']}", flush=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out / 'report.json'}")


if __name__ == "__main__":
    main()
