"""`maskwatch evaluate`: the pipeline scored on box-annotated photos."""

from __future__ import annotations

import sys

from ..settings import EVALUATION
from .options import EXIT_OK, add_pipeline_options, make_detector, non_negative_int


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score the pipeline on box-annotated photos (AP50, recall)",
        description="Run the pipeline on annotated photos and report per-class AP at IoU 0.5, mAP, and recall by face size.",
    )
    p.add_argument("--annotations", required=True, help="annotations.json (../shared/data format)")
    p.add_argument("--split", help="split.json choosing a part of the images")
    p.add_argument("--part", help="part of the split, e.g. test")
    p.add_argument("--json", metavar="FILE", help="write the metrics as JSON")
    p.add_argument("--plot", metavar="PNG", default="pr_curve.png", help="precision-recall plot (default: %(default)s)")
    p.add_argument("--reliability", metavar="PNG", help="also draw a reliability plot of the class probabilities")
    p.add_argument(
        "--bootstrap",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="also give 95%% intervals of each AP50 from N resamples of the photos (e.g. 200; ~0.1 s each)",
    )
    p.add_argument(
        "--corrections",
        metavar="FILE",
        help="score against corrected annotations: a JSON list, per image, of real faces the annotations leave out "
        "(ignored, as COCO's crowd regions, instead of counted as false boxes) and of labels found wrong; "
        "e.g. benchmarks/ilc2021_val_corrections.json",
    )
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="MODEL",
        help="instead, compare models on the same photos, each against the first, with 95%% paired intervals: "
        "CLASSIFIER[+PARTS[:WEIGHT]][@DETECTOR[@single]], e.g. shipped new.onnx new.onnx@det.onnx ('shipped': the shipped "
        "classifier; @single: one detector pass); --bootstrap sets the resamples (default 200)",
    )
    add_pipeline_options(p, EVALUATION)  # AP ranks every detection, down to a low face score


def run(args) -> int:
    import json

    from ..evaluate import evaluate, plot_pr

    if args.compare:
        return run_compare(args)
    from ..datasets import load_corrections

    corrections = load_corrections(args.corrections) if args.corrections else None
    detector = make_detector(args, EVALUATION)
    result = evaluate(
        detector, args.annotations, args.split, args.part, progress=sys.stderr.isatty(), bootstrap=args.bootstrap, corrections=corrections
    )
    what = f"{args.annotations}" + (f" [{args.part} of {args.split}]" if args.split else "")
    print(f"maskwatch evaluate: {what}\n{result.format()}")
    if args.plot:
        plot_pr(result, args.plot)
        print(f"PR curves: {args.plot}")
    if args.reliability:
        from ..calibration import plot_reliability
        from ..types import LABELS

        plot_reliability(result.matched_probs, result.matched_truth, LABELS, args.reliability)
        print(f"reliability plot: {args.reliability}")
    if args.json:
        payload = {
            "data": what,
            "model": detector.info(),
            "settings": detector.settings.to_dict(),
            **result.to_dict(),
        }
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)
    return EXIT_OK


def run_compare(args) -> int:
    import json

    from ..compare import ModelSpec, compare, format_header, format_row
    from ..datasets import load_corrections

    specs = [ModelSpec.parse(text) for text in args.compare]
    if len(specs) < 2:
        raise ValueError("--compare needs at least two models (the first is the reference)")
    what = f"{args.annotations}" + (f" [{args.part} of {args.split}]" if args.split else "")
    print(f"maskwatch evaluate --compare: {what}\n{format_header()}", flush=True)

    def build(spec):
        return make_detector(
            args,
            EVALUATION,
            classifier=spec.classifier,
            detector=spec.detector or args.detector,
            pyramid=not (spec.single_scale or args.single_scale),
            parts=spec.parts,
            part_weight=spec.part_weight,
        )

    rows = compare(
        specs,
        build,
        args.annotations,
        args.split,
        args.part,
        resamples=args.bootstrap or 200,
        corrections=load_corrections(args.corrections) if args.corrections else None,
        on_result=lambda c: print(format_row(c), flush=True),
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"data": what, "resamples": args.bootstrap or 200, "models": {c.name: c.to_dict() for c in rows}}, fh, indent=2)
    return EXIT_OK
