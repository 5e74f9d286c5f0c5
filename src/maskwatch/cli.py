"""Command line: `maskwatch image | evaluate | train`, one verb per job, mirroring the Python API.

Only argparse is imported at start-up; each verb imports what it needs.
"""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def _unit_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return v


def _add_pipeline_options(p: argparse.ArgumentParser, upscale: float = 2.0) -> None:
    from_defaults = "(default: %(default)s)"
    p.add_argument("--model", help="classifier .onnx (default: the model shipped with maskwatch)")
    p.add_argument("--conf", type=_unit_float, default=0.5, help=f"face detector score threshold {from_defaults}")
    p.add_argument("--upscale", type=_positive_float, default=upscale,
                   help=f"enlarge images by this factor before face detection; finds small faces {from_defaults}")
    p.add_argument("--max-side", type=int, default=1280, help=f"cap on the detector's input side, for big photos {from_defaults}")
    p.add_argument("--raw-boxes", action="store_true", help="report the detector's own boxes, without the face-box adjustment")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for inference (default: all cores)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="maskwatch", description="Find faces and tell: mask, no mask, or mask worn incorrectly.")
    parser.add_argument("--version", action="version", version=f"maskwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("image", help="detect masks in photos", description="Detect masks in photos: files, folders or glob patterns.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (searched recursively) or glob patterns")
    p.add_argument("--out", default="maskwatch-out", help="folder for annotated images (default: %(default)s)")
    p.add_argument("--no-save", action="store_true", help="do not write annotated images")
    p.add_argument("--json", metavar="FILE", help="write results as JSON to FILE, or - for stdout")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per face to FILE, or - for stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-face summary")
    _add_pipeline_options(p)

    p = sub.add_parser("evaluate", help="score the pipeline on box-annotated photos (AP50, recall)",
                       description="Run the pipeline on annotated photos and report per-class AP at IoU 0.5, mAP, and recall by face size.")
    p.add_argument("--annotations", required=True, help="annotations.json (../shared/data format)")
    p.add_argument("--split", help="split.json choosing a part of the images")
    p.add_argument("--part", help="part of the split, e.g. test")
    p.add_argument("--json", metavar="FILE", help="write the metrics as JSON")
    p.add_argument("--plot", metavar="PNG", default="pr_curve.png", help="precision-recall plot (default: %(default)s)")
    _add_pipeline_options(p)

    p = sub.add_parser("video", help="detect, track and count masks in video, webcams and streams",
                       description="Run on a webcam (0), a video file, an rtsp:// or http(s):// stream, or a folder of frames. "
                                   "Ctrl-C stops cleanly and still writes the video, events and summary.")
    p.add_argument("--source", required=True, metavar="SRC", help="webcam index, video file, stream URL, or folder of frames")
    p.add_argument("--show", action="store_true", help="show a window (quit with q or Esc)")
    p.add_argument("--out", metavar="VIDEO", help="write the annotated video (.mp4 or .avi)")
    p.add_argument("--events", metavar="JSONL", help="one JSON line per event: track appears, changes label, ends")
    p.add_argument("--summary", metavar="JSON", help="counts, compliance rate, per-minute series, timings")
    p.add_argument("--blur", action="store_true", help="pixelate every face in the written/shown video (counts stay)")
    p.add_argument("--detect-every", type=int, default=1, metavar="N",
                   help="run detection every Nth frame; the tracker carries boxes in between (default: %(default)s)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=_positive_float, default=None, help="frame rate for a folder of frames (default 25) or to override")
    p.add_argument("--stall-timeout", type=_positive_float, default=5.0, help="seconds without data before a stream counts as stalled (default: %(default)s)")
    p.add_argument("--reconnect-timeout", type=_positive_float, default=30.0, help="seconds to keep reconnecting a lost stream (default: %(default)s)")
    _add_pipeline_options(p, upscale=1.0)

    p = sub.add_parser("train", help="train the mask classifier",
                       description="Fine-tune MobileNetV2 on face images and export it to ONNX, with plots and a per-class report.")
    p.add_argument("--data", nargs="+", required=True, metavar="SRC",
                   help="folders of class folders (with_mask/, without_mask/, ...) and/or annotations.json files")
    p.add_argument("--split", help="split.json for the annotations.json sources")
    p.add_argument("--part", help="part of the split to train on (e.g. train)")
    p.add_argument("--out", default="mask_classifier.onnx", help="model to write; plots and report go beside it (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=3, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="(default: %(default)s)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="peak learning rate (default: %(default)s)")
    p.add_argument("--input-size", type=int, default=112, help="(default: %(default)s)")
    p.add_argument("--val-fraction", type=_unit_float, default=0.15, help="share of photo groups held out (default: %(default)s)")
    p.add_argument("--no-pretrained", action="store_true", help="start from random weights instead of ImageNet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores, 1 when the machine is busy)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _detector(args):
    from .pipeline import Detector

    adjust = (0.0, 0.0, 0.0, 0.0) if args.raw_boxes else None
    kwargs = {} if adjust is None else {"box_adjust": adjust}
    return Detector(model=args.model, conf=args.conf, upscale=args.upscale, max_side=args.max_side, threads=args.threads, **kwargs)


def cmd_image(args) -> int:
    import contextlib
    from pathlib import Path

    import cv2

    from .annotate import FaceAnnotator
    from .imageio import expand_inputs
    from .sinks import CsvSink, JsonSink

    if args.json == "-" and args.csv == "-":
        raise ValueError("--json - and --csv - cannot both write to stdout")
    files = expand_inputs(args.paths)
    if not files:
        raise ValueError(f"no images found in {' '.join(args.paths)}")
    detector = _detector(args)
    annotator = FaceAnnotator()
    out_dir = None if args.no_save else Path(args.out)
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    # Summaries go to stderr when stdout carries JSON/CSV, so pipes stay clean.
    report = sys.stderr if "-" in (args.json, args.csv) else sys.stdout
    failed = 0
    used_names: set[str] = set()
    with contextlib.ExitStack() as stack:
        sinks = []
        if args.json:
            sinks.append(stack.enter_context(JsonSink(args.json, detector.info())))
        if args.csv:
            sinks.append(stack.enter_context(CsvSink(args.csv)))
        for path in files:
            result, image = detector.process_file(path)
            for s in sinks:
                s.append(result)
            if result.error:
                failed += 1
                print(f"maskwatch: error: {result.error}", file=sys.stderr)
                continue
            if not args.quiet:
                print(result.summary(), file=report)
                for i, f in enumerate(result.faces, 1):
                    box = ", ".join(f"{v:.0f}" for v in f.box)
                    print(f"  face {i}: {f.label} {f.score:.2f} (face {f.face_score:.2f}) at [{box}]", file=report)
            if out_dir is not None:
                name = _unique_name(Path(path).stem, used_names) + ".jpg"
                if not cv2.imwrite(str(out_dir / name), annotator.annotate(image, result.faces)):
                    print(f"maskwatch: error: cannot write {out_dir / name}", file=sys.stderr)
                    failed += 1
    n = len(files)
    tail = f"; annotated images in {out_dir}/" if out_dir else ""
    print(f"{n - failed}/{n} image(s) processed{tail}", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _unique_name(stem: str, used: set[str]) -> str:
    name, k = stem, 1
    while name in used:
        k += 1
        name = f"{stem}_{k}"
    used.add(name)
    return name


def cmd_evaluate(args) -> int:
    import json

    from .evaluate import evaluate, plot_pr

    detector = _detector(args)
    result = evaluate(detector, args.annotations, args.split, args.part, progress=sys.stderr.isatty())
    what = f"{args.annotations}" + (f" [{args.part} of {args.split}]" if args.split else "")
    print(f"maskwatch evaluate: {what}\n{result.format()}")
    if args.plot:
        plot_pr(result, args.plot)
        print(f"PR curves: {args.plot}")
    if args.json:
        payload = {"data": what, "model": detector.info(), "settings": {"conf": args.conf, "upscale": args.upscale,
                   "raw_boxes": args.raw_boxes}, **result.to_dict()}
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)
    return EXIT_OK


def cmd_train(args) -> int:
    from .train.engine import TrainConfig, train

    cfg = TrainConfig(data=args.data, out=args.out, split=args.split, part=args.part, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, input_size=args.input_size, val_fraction=args.val_fraction,
                      pretrained=not args.no_pretrained, seed=args.seed, threads=args.threads, progress=not args.no_progress)
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError("--epochs and --batch-size must be at least 1")
    train(cfg, log=lambda msg: print(msg, file=sys.stderr))
    return EXIT_OK


def cmd_video(args) -> int:
    import json

    from .video import VideoConfig, run_video

    cfg = VideoConfig(source=args.source, out=args.out, events=args.events, summary=args.summary, show=args.show, blur=args.blur,
                      detect_every=args.detect_every, max_frames=args.max_frames, fps=args.fps,
                      stall_timeout=args.stall_timeout, reconnect_timeout=args.reconnect_timeout)
    detector = _detector(args)
    summary = run_video(detector, cfg, log=lambda msg: print(f"maskwatch: {msg}", file=sys.stderr))
    keys = ("stopped", "frames", "fps", "people", "with_mask", "without_mask", "mask_worn_incorrectly", "compliance_rate",
            "frames_dropped", "corrupt_frames", "reconnects")
    print(json.dumps({k: summary[k] for k in keys}))
    if summary["stopped"].startswith("error"):
        print(f"maskwatch: error: {summary['stopped'][7:]}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


COMMANDS = {"image": cmd_image, "evaluate": cmd_evaluate, "video": cmd_video, "train": cmd_train}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    try:
        return COMMANDS[args.command](args)
    except (ValueError, RuntimeError, OSError) as exc:
        # User-facing failures are one line; tracebacks are for bugs.
        print(f"maskwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("maskwatch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
