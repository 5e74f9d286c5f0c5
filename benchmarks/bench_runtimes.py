"""Each runtime side by side in one run (#48): speed and accuracy of the same ONNX files.

    python benchmarks/bench_runtimes.py [--runtimes onnxruntime openvino openvino-bf16] [--json runs/runtimes.json]

Speed: the detector on one 720x544 video frame and the classifier on 8 crops (median of 30
calls); photos end to end (read, detect, classify) over kaggle-853 `test`; video end to end
(`run_video`: decode, detect on every frame, classify, track, draw, encode) on a 640x480 clip
panned over real photos. Accuracy: `evaluate` on kaggle-853 `test` and ilc2021 `val` with each
runtime, paired against ONNX Runtime (bootstrap over photos). The CPU is named in the output.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "benchmarks"))


def cpu_name() -> str:
    from maskwatch.runtimes.auto import _cpu

    return _cpu()


def median_ms(fn, n: int = 30) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtimes", nargs="+", default=["onnxruntime", "openvino", "openvino-bf16"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--kaggle", default=str(DATA / "kaggle-853" / "annotations.json") + ":test")
    ap.add_argument("--ilc", default=str(DATA / "ilc2021" / "annotations.json") + ":val")
    ap.add_argument("--photos", type=int, default=0, help="photos for the speed run (0: all of kaggle test)")
    ap.add_argument("--clip-photos", type=int, default=10, help="photos in the video clip, 30 frames each")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--no-accuracy", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()

    from bench_video import pick_photos

    from maskwatch.clips import make_pan_clip
    from maskwatch.datasets import load_annotations
    from maskwatch.evaluate import evaluate, paired_differences
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector
    from maskwatch.settings import EVALUATION, VIDEO
    from maskwatch.video.run import VideoConfig, run_video

    print(f"CPU: {cpu_name()}; threads: {args.threads or 'all'}", flush=True)
    items = load_annotations(args.kaggle)
    if args.photos:
        items = items[: args.photos]
    images = [read_image(it.path) for it in items]
    tmp = Path(tempfile.mkdtemp())
    clip = tmp / "clip.mp4"
    kaggle_dir = DATA / "kaggle-853"
    make_pan_clip(pick_photos(kaggle_dir / "images", kaggle_dir / "annotations.json", args.clip_photos), clip, frames_per_photo=30)
    frame = np.random.default_rng(0).uniform(0, 255, (1, 3, 544, 720)).astype(np.float32)
    crops = np.random.default_rng(0).uniform(0, 255, (8, 112, 112, 3)).astype(np.float32)

    out = {"cpu": cpu_name(), "threads": args.threads, "runtimes": {}}
    reference = {}
    for runtime in args.runtimes:
        try:
            det = Detector(threads=args.threads, runtime=runtime)
        except ValueError as exc:
            print(f"{runtime}: skipped ({exc})", flush=True)
            continue
        r: dict = {}
        sess_d = det.face_detector._session
        name_d = sess_d.get_inputs()[0].name
        sess_c = det.classifier._session
        r["detector_ms_720x544"] = median_ms(lambda s=sess_d, n=name_d: s.run(None, {n: frame}))
        r["classifier_ms_8_crops"] = median_ms(lambda s=sess_c: s.run(None, {"crops": crops}))
        det.detect(images[0])
        t0 = time.perf_counter()
        for im in images:
            det.detect(im)
        r["photo_ms"] = round((time.perf_counter() - t0) * 1000 / len(images), 1)
        vdet = Detector(VIDEO, threads=args.threads, runtime=runtime)
        s = run_video(vdet, VideoConfig(source=str(clip), out=str(tmp / f"{runtime}.mp4")), log=lambda m: None)
        r["video_fps_detect_every_frame"] = s["fps"]
        r["video_ms_per_frame"] = s["timing_ms_per_frame"]
        print(
            f"{runtime}: detector {r['detector_ms_720x544']} ms (720x544), classifier {r['classifier_ms_8_crops']} ms (8 crops), "
            f"photos {r['photo_ms']} ms each ({len(images)}), video {r['video_fps_detect_every_frame']} fps end to end",
            flush=True,
        )
        if not args.no_accuracy:
            edet = Detector(EVALUATION, threads=args.threads, runtime=runtime)
            for label, ann in (("kaggle_test", args.kaggle), ("ilc_val", args.ilc)):
                res = evaluate(edet, ann, progress=False)
                acc = {"map50": round(res.map50, 4), "ap50": {k: round(v, 4) for k, v in res.ap50.items()}}
                if label in reference:
                    ref = reference[label]
                    d = paired_differences(res.n_images, ref.gts, ref.dets, res.dets, args.bootstrap)
                    acc["vs_onnxruntime"] = {
                        k: {
                            "diff": round((res.map50 - ref.map50) if k == "mAP50" else (res.ap50[k] - ref.ap50[k]), 4),
                            "low": round(v["low"], 4),
                            "high": round(v["high"], 4),
                        }
                        for k, v in d.items()
                    }
                else:
                    reference[label] = res
                r[label] = acc
                vs = acc.get("vs_onnxruntime", {}).get("mAP50")
                print(
                    f"  {label}: mAP50 {acc['map50']:.4f}"
                    + (f" ({vs['diff']:+.4f} [{vs['low']:+.4f}, {vs['high']:+.4f}] vs onnxruntime)" if vs else "")
                    + "  "
                    + "  ".join(f"{k} {v:.4f}" for k, v in acc["ap50"].items()),
                    flush=True,
                )
        out["runtimes"][runtime] = r
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
