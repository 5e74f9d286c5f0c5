"""Speed of `maskwatch image`: per-image time over kaggle-853 `test`, and cold starts.

    python benchmarks/bench_image.py --annotations ../shared/data/kaggle-853/annotations.json \
        --split ../shared/data/kaggle-853/split.json --part test
    python benchmarks/bench_image.py --annotations ../shared/data/ilc2021/annotations.json:val

Per-image time covers what the CLI does for each file: read, detect, classify, draw, write the
annotated JPEG. Models are loaded once, before timing (as in a run over a folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from entry_point import maskwatch_command


def cold(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--split")
    ap.add_argument("--part", default="test")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--upscale", type=float, default=None, help="detector upscale (default: the pipeline's)")
    ap.add_argument("--model", help="classifier .onnx (default: the shipped one)")
    ap.add_argument("--detector", help="face detector name or .onnx (default: the shipped one)")
    ap.add_argument("--single-scale", action="store_true", help="one detector pass (no coarse pass for large faces)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start timings")
    args = ap.parse_args()

    import cv2

    from maskwatch.annotate import FaceAnnotator
    from maskwatch.datasets import load_annotations
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector

    items = load_annotations(args.annotations, args.split, args.part if args.split else None)
    det = Detector(
        classifier=args.model,
        detector=args.detector,
        threads=args.threads,
        pyramid=not args.single_scale,
        **({"upscale": args.upscale} if args.upscale else {}),
    )
    ann = FaceAnnotator()
    out = Path(tempfile.mkdtemp())
    det.process_file(str(items[0].path))  # warm-up: first-run allocations
    times, stage = [], {"read": 0.0, "detect": 0.0, "classify": 0.0, "draw+write": 0.0}
    n_faces = 0
    for it in items:
        t0 = time.perf_counter()
        image = read_image(it.path)
        t1 = time.perf_counter()
        found = det.find_faces(image)
        t2 = time.perf_counter()
        faces = det.classify(image, found)
        t3 = time.perf_counter()
        cv2.imwrite(str(out / (it.path.stem + ".jpg")), ann.annotate(image, faces))
        t4 = time.perf_counter()
        times.append(t4 - t0)
        for k, dt in zip(stage, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stage[k] += dt
        n_faces += len(faces)
    shutil.rmtree(out, ignore_errors=True)
    n = len(items)
    print(f"{n} images, {n_faces} faces detected, {os.cpu_count()} CPU cores")
    print(
        f"per image: mean {1000 * statistics.mean(times):.1f} ms, median {1000 * statistics.median(times):.1f} ms, "
        f"p95 {1000 * sorted(times)[int(0.95 * n) - 1]:.1f} ms"
    )
    print("stages (mean ms/image): " + ", ".join(f"{k} {1000 * v / n:.1f}" for k, v in stage.items()))
    if args.no_cold:
        return
    exe = maskwatch_command()  # the installed entry point, as a user runs it
    one = str(items[0].path)
    print(f"cold start `maskwatch --help`: {cold(exe + ['--help']):.2f} s (best of 3)")
    print(f"cold start `maskwatch image one.jpg`: {cold(exe + ['image', one, '--no-save', '-q']):.2f} s (best of 3)")


if __name__ == "__main__":
    main()
