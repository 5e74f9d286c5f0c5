"""Would a site detect faster by batching its cameras' frames into one detector call?

    python benchmarks/bench_detect_batch.py --images ../shared/data/kaggle-853/images

Times the shipped face detector's ONNX session (video settings: one pass at 1x) on 640x480
frames of real photos, one call per batch of 1, 2, 4 and 8 frames, with 1 and 2 intra-op
threads, and prints the wall and CPU milliseconds per frame. A site of N cameras calls the
detector once per camera frame from N threads; batching would stack those frames in one call.
Then the whole detection step (`Detector.find_faces`, pre- and post-processing included) per
frame at each --scales value, as a site camera's `detect_scale` runs it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np


def per_frame(session, name: str, batch: np.ndarray, seconds: float) -> tuple[float, float]:
    for _ in range(2):
        session.run(None, {name: batch})
    n, w0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - w0 < seconds:
        session.run(None, {name: batch})
        n += 1
    frames = n * len(batch)
    return 1000 * (time.perf_counter() - w0) / frames, 1000 * (time.process_time() - c0) / frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", default="../shared/data/kaggle-853/images")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.75, 0.5])
    args = ap.parse_args()

    from maskwatch.detectors.retinaface import FINETUNED_DETECTOR, RetinaFace, detector_weights
    from maskwatch.imageio import read_image
    from maskwatch.runtimes.onnxruntime import make_session
    from maskwatch.settings import VIDEO

    photos = sorted(Path(args.images).glob("*.png")) + sorted(Path(args.images).glob("*.jpg"))
    if len(photos) < max(args.batches):
        raise SystemExit(f"need {max(args.batches)} photos in {args.images}")
    det = RetinaFace(FINETUNED_DETECTOR, VIDEO.resolved(rejects_non_faces=True))
    blobs = [det.prepare(cv2.resize(read_image(p), (640, 480), interpolation=cv2.INTER_AREA), 1.0)[0] for p in photos[: max(args.batches)]]
    print(f"{'threads':>7s} {'batch':>5s} {'wall ms/frame':>14s} {'CPU ms/frame':>13s}")
    for threads in (1, 2):
        session = make_session(detector_weights(FINETUNED_DETECTOR), threads)
        name = session.get_inputs()[0].name
        for b in args.batches:
            wall, cpu = per_frame(session, name, np.concatenate(blobs[:b]), args.seconds)
            print(f"{threads:7d} {b:5d} {wall:14.1f} {cpu:13.1f}", flush=True)
    from maskwatch.pipeline import Detector

    frames = [cv2.resize(read_image(p), (640, 480), interpolation=cv2.INTER_AREA) for p in photos[:8]]
    print(f"{'detect_scale':>12s} {'CPU ms/frame (1 thread)':>24s}")
    det1 = Detector(VIDEO, threads=1)
    for scale in args.scales:
        for f in frames[:2]:
            det1.find_faces(f, scale)
        n, c0, w0 = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - w0 < args.seconds:
            det1.find_faces(frames[n % len(frames)], scale)
            n += 1
        print(f"{scale:12g} {1000 * (time.process_time() - c0) / n:24.1f}", flush=True)


if __name__ == "__main__":
    main()
