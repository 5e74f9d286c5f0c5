"""`maskwatch train-detector`: fine-tune the face detector."""

from __future__ import annotations

import sys

from .options import EXIT_OK, positive_float, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train-detector",
        help="fine-tune the face detector on box-annotated photos",
        description="Fine-tune the shipped RetinaFace detector (face / no face, box placement) on photos "
        "with face boxes, and write it as ONNX for --detector.",
    )
    p.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="ANNOTATIONS",
        help="annotations.json files (../shared/data format); ANNOTATIONS:PART takes one part of the split.json beside it",
    )
    p.add_argument("--split", help="split.json")
    p.add_argument("--part", help="part of the split to train on (e.g. train)")
    p.add_argument("--out", default="face_detector.onnx", help="(default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=15, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="(default: %(default)s)")
    p.add_argument("--lr", type=positive_float, default=1e-4, help="peak learning rate (default: %(default)s)")
    p.add_argument(
        "--mask-head", action="store_true", help="also train a 3-class mask head, so the detector labels faces itself (see --labels-from)"
    )
    p.add_argument(
        "--min-anchors",
        type=int,
        default=0,
        metavar="N",
        help="give each face at least N positive anchors (its best ones with IoU >= 0.1; S3FD's compensation for small faces; "
        "default: %(default)s, the plain IoU >= 0.35 rule)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--device", default="auto", help="auto (a GPU when PyTorch sees one), cpu or cuda (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from ..train.detector import DetectorTrainConfig, train_detector

    if args.epochs < 1 or args.batch_size < 1:
        raise ValueError("--epochs and --batch-size must be at least 1")
    if args.min_anchors < 0:
        raise ValueError(f"--min-anchors must be 0 or more, got {args.min_anchors}")
    cfg = DetectorTrainConfig(
        data=args.data,
        out=args.out,
        split=args.split,
        part=args.part,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        mask_head=args.mask_head,
        min_anchors=args.min_anchors,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        progress=not args.no_progress,
    )
    train_detector(cfg, log=lambda msg: print(msg, file=sys.stderr))
    return EXIT_OK
