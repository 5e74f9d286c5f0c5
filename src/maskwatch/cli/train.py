"""`maskwatch train`: the mask classifier."""

from __future__ import annotations

import os
import sys

from .options import EXIT_OK, min_side, non_negative_int, positive_float, positive_int, unit_float


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the mask classifier",
        description="Fine-tune MobileNetV2 on face images and export it to ONNX, with plots and a per-class report.",
    )
    p.add_argument(
        "--data",
        nargs="+",
        metavar="SRC",
        help="folders of class folders (with_mask/, without_mask/, ...) and/or annotations.json files "
        "(ANNOTATIONS:PART takes one part of the split.json beside it)",
    )
    p.add_argument(
        "--pack",
        metavar="NPZ",
        help="train from a pack of crops (from --save-pack) instead of --data; --split/--part keep one part of its annotated photos",
    )
    p.add_argument(
        "--reviews",
        metavar="STORE",
        help="fine-tune a classifier (--base, default the shipped one) on the answered faces of this review store, "
        "replaying --data or a --pack (default: the base model's own training data, where it is on this machine)",
    )
    p.add_argument("--base", metavar="ONNX", help="with --reviews: the classifier to start from (default: the shipped one)")
    p.add_argument("--steps", type=positive_int, default=300, help="with --reviews: training steps (default: %(default)s)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="with --reviews: learn from the first N answers only")
    p.add_argument(
        "--tail-layers",
        type=positive_int,
        default=None,
        metavar="N",
        help="with --reviews: train only the last N weighted layers (default: all)",
    )
    p.add_argument(
        "--save-pack",
        metavar="NPZ",
        help="load --data (with the synthetic and non-face options) into one "
        "file of 128 px JPEG crops and stop: to train on a machine without the data folders",
    )
    p.add_argument("--split", help="split.json for the annotations.json sources")
    p.add_argument("--part", help="part of the split to train on (e.g. train)")
    p.add_argument("--out", default="mask_classifier.onnx", help="model to write; plots and report go beside it (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=3, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="(default: %(default)s)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="peak learning rate (default: %(default)s)")
    p.add_argument("--input-size", type=min_side, default=112, help="(default: %(default)s)")
    p.add_argument(
        "--margin",
        type=unit_float,
        default=0.15,
        help="each face box is grown by this share of its longer side on each side before cropping; "
        "the model records it, so inference crops the same way (default: %(default)s)",
    )
    p.add_argument(
        "--lowres",
        type=unit_float,
        default=0.3,
        metavar="P",
        help="share of training crops shrunk to 14-40 px and back, as the small faces of crowd photos reach "
        "the classifier (default: %(default)s)",
    )
    p.add_argument("--val-fraction", type=unit_float, default=0.15, help="share of photo groups held out (default: %(default)s)")
    p.add_argument(
        "--balance",
        type=unit_float,
        default=0.5,
        help="draw samples with weight count(class)^-BALANCE: 0 as they come, 1 classes equally (default: %(default)s)",
    )
    p.add_argument(
        "--source-weights",
        type=positive_float,
        nargs="+",
        metavar="W",
        help="one factor per --data source on how often its samples are drawn (default: all 1)",
    )
    p.add_argument(
        "--non-faces",
        nargs="?",
        const="finetuned",
        metavar="DETECTOR",
        help="also learn a not_a_face class from the false detections of this face detector (default: the "
        "shipped one) in the annotated photos; at inference it lowers those boxes' face_score (photos, "
        "evaluate and serve; video ignores it)",
    )
    p.add_argument(
        "--detected-faces",
        action="store_true",
        help="with --non-faces: also crop each annotated face the detector finds at the detector's box, "
        "with the face's label (the classifier then learns the crops it gets at inference, not only the "
        "annotators' boxes)",
    )
    p.add_argument(
        "--non-face-max-score",
        type=float,
        default=1.0,
        metavar="S",
        help="with --non-faces: leave out false detections the detector scores S or higher (in photos where "
        "not every small face is boxed, most of those are faces; default: 1, keep all)",
    )
    p.add_argument(
        "--synth-incorrect",
        action="store_true",
        help="make mask_worn_incorrectly examples from class-folder pairs of a bare photo and its pasted-mask "
        "copy (12.jpg, 12-with-mask.jpg): the mask pasted lower, uncovering the nose",
    )
    p.add_argument(
        "--synth-masks",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="draw N masks worn wrongly (under the nose, on the chin, hanging from one ear) on bare faces "
        "from the data, placed with the face detector's landmarks (default: 0, off)",
    )
    p.add_argument(
        "--teacher",
        metavar="MODEL",
        help="distil from this classifier .onnx (e.g. an ensemble from `maskwatch ensemble`) on the same crops",
    )
    p.add_argument(
        "--distill-weight",
        type=unit_float,
        default=0.5,
        help="with --teacher: share of the loss that follows the teacher rather than the labels (default: %(default)s)",
    )
    p.add_argument("--no-pretrained", action="store_true", help="start from random weights instead of ImageNet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: all cores, 1 when the machine is busy)")
    p.add_argument("--device", default="auto", help="auto (a GPU when PyTorch sees one), cpu or cuda (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..train.engine import TrainConfig, train

    if args.reviews:
        return _run_reviews(args)
    if args.base or args.limit or args.tail_layers or args.steps != 300:
        raise ValueError("--base, --steps, --limit and --tail-layers go with --reviews STORE")
    if bool(args.data) == bool(args.pack):
        raise ValueError("give the training data either as --data SRC ... or as --pack NPZ")
    if args.save_pack and not args.data:
        raise ValueError("--save-pack packs --data: give the sources with --data")
    samples = None
    data = args.data
    if args.pack:
        from ..train.pack import load_pack, pack_margin

        # Checked before the crops are decoded: they are cut already, so another margin cannot apply.
        margin = pack_margin(args.pack)
        if abs(margin - args.margin) > 1e-6:
            raise ValueError(f"{args.pack} holds crops cut with --margin {margin}; this run asks for {args.margin}")
        # Synthetic samples (and second crops at detector boxes) in the pack count only when this run asks for them too.
        samples, data = load_pack(
            args.pack, args.split, args.part, synthetic=args.synth_incorrect or args.synth_masks > 0, detected=args.detected_faces
        )
        print(f"{args.pack}: {len(samples)} crops {samples.class_counts()}", file=sys.stderr)
    cfg = TrainConfig(
        data=data,
        out=args.out,
        split=args.split,
        part=args.part,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        input_size=args.input_size,
        margin=args.margin,
        lowres_p=args.lowres,
        val_fraction=args.val_fraction,
        balance=args.balance,
        source_weights=args.source_weights,
        non_faces=args.non_faces,
        detected_faces=args.detected_faces,
        non_face_max_score=args.non_face_max_score,
        synth_incorrect=args.synth_incorrect,
        synth_masks=args.synth_masks,
        teacher=args.teacher,
        distill_weight=args.distill_weight,
        pretrained=not args.no_pretrained,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        progress=not args.no_progress,
    )
    if cfg.teacher and not os.path.isfile(cfg.teacher):  # say so before minutes of loading data
        raise ValueError(f"teacher model not found: {cfg.teacher}")
    if cfg.non_faces and not args.pack and not any(str(d).split(":")[0].endswith(".json") for d in cfg.data):
        raise ValueError("--non-faces needs photos with face boxes: give an annotations.json in --data")
    if not 0.0 < cfg.non_face_max_score <= 1.0:
        raise ValueError(f"--non-face-max-score is a detector score, above 0 and at most 1, got {cfg.non_face_max_score}")
    if cfg.non_face_max_score < 1.0 and (args.pack or not cfg.non_faces):
        raise ValueError("--non-face-max-score applies while mining --non-faces from annotated photos (a --pack holds them mined already)")
    if cfg.detected_faces and not cfg.non_faces and not args.pack:
        raise ValueError("--detected-faces crops at the boxes of the --non-faces detector: give --non-faces too")
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if args.save_pack:
        from ..train.engine import load_training_samples
        from ..train.pack import write_pack

        packed = load_training_samples(cfg, cfg.threads, log)
        size = write_pack(packed, cfg.data, args.save_pack, cfg.margin)
        print(f"maskwatch: wrote {args.save_pack}: {len(packed)} crops, {size / 1e6:.1f} MB of JPEG", file=sys.stderr)
        return EXIT_OK
    train(cfg, log=log, samples=samples)
    return EXIT_OK


def _run_reviews(args) -> int:
    from ..train.reviews import ReviewTrainConfig, train_from_reviews

    if args.pack and args.data:
        raise ValueError("--reviews replays either --data or a --pack, not both")
    if args.base and not os.path.isfile(args.base):
        raise ValueError(f"--base model not found: {args.base}")
    cfg = ReviewTrainConfig(
        store=args.reviews,
        out=args.out,
        base=args.base,
        replay=args.data,
        replay_pack=args.pack,
        steps=args.steps,
        batch_size=args.batch_size,
        limit=args.limit,
        tail_layers=args.tail_layers,
        lr=args.lr if args.lr != 1e-3 else ReviewTrainConfig.lr,  # the fine-tune's own default
        seed=args.seed,
        threads=args.threads,
        progress=not args.no_progress,
    )
    train_from_reviews(cfg, log=lambda msg: print(msg, file=sys.stderr))
    return EXIT_OK
