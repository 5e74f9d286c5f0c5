"""`maskwatch train-parts`: train the part check (nose and mouth covered?) on face photos."""

from __future__ import annotations

from pathlib import Path

from .options import EXIT_OK, positive_float, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train-parts",
        help="train the part check: nose and mouth crops, placed by the detector's landmarks",
        description="Train the part check (#47): a small model that looks at the nose and the mouth of each face "
        "(crops placed by the face detector's five landmarks) and says whether each is covered, and which class. "
        "Its labels come from the three mask classes. Use it with --parts.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", nargs="+", metavar="SRC", help="annotations.json[:PART] files and/or folders of class folders")
    src.add_argument("--pack", type=Path, metavar="NPZ", help="train from part crops saved with --save-pack")
    p.add_argument(
        "--draw-masks",
        type=Path,
        metavar="DIR",
        help="a MaskTheFace folder (masks.cfg, templates/): real masks drawn on bare faces, worn right, under the nose or on the chin",
    )
    p.add_argument(
        "--draw-share", type=float, default=0.5, metavar="P", help="with --draw-masks: share of bare faces drawn on (default: %(default)s)"
    )
    p.add_argument("--save-pack", type=Path, metavar="NPZ", help="with --data: also save the collected crops here")
    p.add_argument("--out", type=Path, default=Path("part_check.onnx"), help="(default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=12, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=128, help="(default: %(default)s)")
    p.add_argument("--lr", type=positive_float, default=2e-3, help="peak learning rate (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--no-pretrained", action="store_true", help="start the trunk from random weights")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    try:
        import torch
    except ImportError:
        raise ValueError("train-parts needs PyTorch: pip install 'maskwatch[train]'") from None
    from ..train.parts import PartSamples, PartTrainConfig, collect, train_parts

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out.suffix != ".onnx":
        raise ValueError(f"--out must end in .onnx, got {args.out}")
    if args.pack is not None:
        if not args.pack.is_file():
            raise ValueError(f"pack not found: {args.pack}")
        samples = PartSamples.load(args.pack)
        data = [str(args.pack)]
    else:
        from ..detectors import load_detector
        from ..settings import PHOTO

        photos = load_detector(PHOTO.resolved(True))
        crops = load_detector(PHOTO.but(upscale=1.0, pyramid=False, conf=0.3).resolved(True))
        templates = None
        if args.draw_masks is not None:
            from ..train.masktheface import load_templates

            if not 0 < args.draw_share <= 1:
                raise ValueError(f"--draw-share must be in (0, 1], got {args.draw_share}")
            templates = load_templates(args.draw_masks)
        samples = collect(
            args.data, photos, crops, progress=not args.no_progress, templates=templates, synth_share=args.draw_share, seed=args.seed
        )
        data = list(args.data)
        if args.save_pack:
            samples.save(args.save_pack)
    cfg = PartTrainConfig(
        out=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        pretrained=not args.no_pretrained,
        data=data,
        progress=not args.no_progress,
    )
    report = train_parts(samples, cfg)
    print(f"wrote {args.out} ({report['train_faces']} faces trained on, {report['val_faces']} held out, {report['seconds']:.0f} s)")
    return EXIT_OK
