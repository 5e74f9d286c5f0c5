"""Compare face-detector scale settings on box-annotated photos: one pass vs the two-pass pyramid,
and the coarse pass's size. Each setting runs the whole pipeline (`maskwatch evaluate`'s code)
and prints mAP50, face recall, the face-count figures and the time per photo.

    python scripts/tune_pyramid.py --data ../shared/data/ilc2021/annotations.json:val \
        ../shared/data/kaggle-853/annotations.json:train --coarse-side 256 320 384 --fine-max 128 160 240 --single-scale
"""

from __future__ import annotations

import argparse

from maskwatch.detectors import retinaface
from maskwatch.evaluate import evaluate
from maskwatch.pipeline import Detector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="annotations.json[:PART] sets to score on")
    ap.add_argument("--detector", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--coarse-side", type=int, nargs="*", default=[320], help="coarse pass: the photo's short side in px")
    ap.add_argument("--single-scale", action="store_true", help="also score one pass at --upscale")
    ap.add_argument("--fine-max", type=int, nargs="*", default=[160], help="fine pass keeps faces under this (px in its input)")
    ap.add_argument("--upscale", type=float, default=2.25)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    settings = [("single", None)] if args.single_scale else []
    settings += [(f"fine<{m} c{c}", (c, m)) for c in args.coarse_side for m in args.fine_max]
    print(
        f"{'data':48s} {'setting':14s} {'mAP50':>6s} {'recall':>7s} {'prec':>6s} {'count ok':>9s} "
        f"{'close-up 1':>11s} {'dup photos':>11s} {'ms/photo':>9s}"
    )
    for data in args.data:
        for name, coarse in settings:
            if coarse is not None:  # the pyramid's constants, read when the detector is built
                retinaface.COARSE_SIDE, retinaface.FINE_MAX_FACE_PX = coarse
            det = Detector(
                classifier=args.model,
                detector=args.detector,
                conf=0.05,
                upscale=args.upscale,
                threads=args.threads,
                pyramid=coarse is not None,
            )
            r = evaluate(det, data, progress=False)
            found = sum(f for f, _ in r.recall_by_size.values())
            total = sum(t for _, t in r.recall_by_size.values())
            c = r.counts
            print(
                f"{data[-48:]:48s} {name:14s} {r.map50:6.3f} {found / total:7.3f} {r.face_precision:6.3f} "
                f"{c.right_count / max(c.photos, 1):9.3f} {c.close_ups_one_box:>5d}/{c.close_ups:<5d} "
                f"{c.duplicate_photos / max(c.photos, 1):11.3f} {r.ms_per_image:9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
