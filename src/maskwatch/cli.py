"""Command line: `maskwatch image | evaluate | train`, one verb per job, mirroring the Python API.

Only argparse is imported at start-up; each verb imports what it needs.
"""
from __future__ import annotations

import argparse
import os
import sys

from .errors import MaskwatchError

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR, EXIT_BUG = 0, 1, 2, 3


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def _non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return v


def _int_at_least(low: int, unit: str = ""):
    """An argparse type: a whole number >= low (one-line usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}{unit}, got {text}")
        return v

    return parse


_min_side = _int_at_least(32, " px")
_positive_int = _int_at_least(1)


def _unit_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return v


def _add_pipeline_options(p: argparse.ArgumentParser, upscale: float = 2.25, conf: float = 0.5) -> None:
    # upscale and conf repeat pipeline.DEFAULT_UPSCALE / DEFAULT_FACE_THRESHOLD: importing the
    # pipeline here would load numpy and OpenCV for `--help` too (a test keeps them equal).
    from_defaults = "(default: %(default)s)"
    p.add_argument("--model", help="classifier .onnx (default: the model shipped with maskwatch)")
    p.add_argument("--detector", default=None, metavar="NAME|FILE",
                   help="face detector: widerface (RetinaFace as published), finetuned (fine-tuned on mask photos), "
                        "or a .onnx from `maskwatch train-detector` (default: finetuned)")
    p.add_argument("--labels-from", choices=["classifier", "detector", "both"], default="classifier",
                   help="mask label from the crop classifier, the mask head of a detector trained with "
                        "train-detector --mask-head, or their mean (default: %(default)s)")
    p.add_argument("--conf", type=_unit_float, default=conf, help=f"face detector score threshold {from_defaults}")
    p.add_argument("--upscale", type=_positive_float, default=upscale,
                   help=f"enlarge images by this factor before face detection; finds small faces {from_defaults}")
    p.add_argument("--max-side", type=_min_side, default=1280, help=f"cap on the detector's input side, for big photos {from_defaults}")
    p.add_argument("--raw-boxes", action="store_true", help="report the detector's own boxes, without the face-box adjustment")
    p.add_argument("--single-scale", action="store_true",
                   help="one detector pass at --upscale only (no coarse pass for faces that fill the photo; faster, "
                        "but a close-up can come back as several boxes)")
    p.add_argument("--threads", type=_positive_int, default=None, help="CPU threads for inference (default: all cores)")


class _Parser(argparse.ArgumentParser):
    """argparse, plus 'did you mean' for mistyped options (--upscal -> --upscale)."""

    def error(self, message: str):
        import difflib
        import re

        m = re.match(r"unrecognized arguments: (.*)", message)
        if m:
            parsers = [self] + [p for a in self._actions if isinstance(a, argparse._SubParsersAction) for p in a.choices.values()]
            known = sorted({o for p in parsers for a in p._actions for o in a.option_strings if o.startswith("--")})
            hints = []
            for arg in m.group(1).split():
                close = difflib.get_close_matches(arg.split("=")[0], known, n=3, cutoff=0.6) if arg.startswith("-") else []
                if close:
                    hints.append(f"{arg}: similar options are {', '.join(close)}")
            if hints:
                message += "\n" + "\n".join(hints)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="maskwatch", description="Find faces and tell: mask, no mask, or mask worn incorrectly.")
    parser.add_argument("--version", action="version", version=f"maskwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("image", help="detect masks in photos", description="Detect masks in photos: files, folders or glob patterns.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (searched recursively) or glob patterns")
    p.add_argument("--out", default="maskwatch-out", help="folder for annotated images (default: %(default)s)")
    p.add_argument("--no-save", action="store_true", help="do not write annotated images")
    p.add_argument("--blur", action="store_true", help="pixelate every detected face in the annotated images (privacy; results unchanged)")
    p.add_argument("--json", metavar="FILE", help="write results as JSON to FILE, or - for stdout")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per face to FILE, or - for stdout")
    p.add_argument("--jsonl", metavar="FILE", help="write one JSON line per image to FILE (or -): for runs of any size")
    p.add_argument("--parquet", metavar="FILE", help="write one row per image to a Parquet file (needs pyarrow)")
    p.add_argument("--resume", action="store_true", help="skip files already in the --jsonl output and append the rest")
    p.add_argument("--workers", type=_non_negative_int, default=0, metavar="N",
                   help="N worker processes, one inference thread each (default 0: this process, all cores)")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="run here, or on a Ray cluster (default: %(default)s)")
    p.add_argument("--address", help="with --engine ray: cluster address ('auto', 'ray://head:10001'); default: a local Ray")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-face summary")
    _add_pipeline_options(p)

    p = sub.add_parser("evaluate", help="score the pipeline on box-annotated photos (AP50, recall)",
                       description="Run the pipeline on annotated photos and report per-class AP at IoU 0.5, mAP, and recall by face size.")
    p.add_argument("--annotations", required=True, help="annotations.json (../shared/data format)")
    p.add_argument("--split", help="split.json choosing a part of the images")
    p.add_argument("--part", help="part of the split, e.g. test")
    p.add_argument("--json", metavar="FILE", help="write the metrics as JSON")
    p.add_argument("--plot", metavar="PNG", default="pr_curve.png", help="precision-recall plot (default: %(default)s)")
    p.add_argument("--reliability", metavar="PNG", help="also draw a reliability plot of the class probabilities")
    p.add_argument("--bootstrap", type=_non_negative_int, default=0, metavar="N",
                   help="also give 95%% intervals of each AP50 from N resamples of the photos (e.g. 200; ~0.1 s each)")
    # AP ranks every detection, so it is measured down to a low face score (as COCO-style
    # evaluators do); 0.05 chosen on kaggle-853 train: mAP50 0.786 at 0.5, 0.812 at 0.15, 0.825 at 0.05.
    _add_pipeline_options(p, conf=0.05)

    p = sub.add_parser("video", help="detect, track and count masks in video, webcams and streams",
                       description="Run on a webcam (0), a video file, an rtsp:// or http(s):// stream, or a folder of frames. "
                                   "Ctrl-C or SIGTERM stops cleanly and still writes the video, events and summary.")
    p.add_argument("--source", required=True, metavar="SRC", help="webcam index, video file, stream URL, or folder of frames")
    p.add_argument("--show", action="store_true", help="show a window (quit with q or Esc)")
    p.add_argument("--out", metavar="VIDEO", help="write the annotated video (.mp4 or .avi)")
    p.add_argument("--events", metavar="JSONL", help="one JSON line per event: track appears, changes label, ends")
    p.add_argument("--webhook", metavar="URL", help="also POST each event as JSON to this http(s) URL (alerting; "
                   "sent from a background thread, failures counted in the summary)")
    p.add_argument("--summary", metavar="JSON", help="counts, compliance rate, per-minute series, timings")
    p.add_argument("--blur", action="store_true", help="pixelate every face in the written/shown video (counts stay)")
    p.add_argument("--detect-every", type=_positive_int, default=1, metavar="N",
                   help="run detection every Nth frame; the tracker carries boxes in between (default: %(default)s)")
    p.add_argument("--max-frames", type=_positive_int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=_positive_float, default=None, help="frame rate for a folder of frames (default 25) or to override")
    p.add_argument("--stall-timeout", type=_positive_float, default=5.0, help="seconds without data before a stream counts as stalled (default: %(default)s)")
    p.add_argument("--reconnect-timeout", type=_positive_float, default=30.0, help="seconds to keep reconnecting a lost stream (default: %(default)s)")
    _add_pipeline_options(p, upscale=1.0)  # video.VIDEO_UPSCALE (not imported: --help stays light)

    p = sub.add_parser("serve", help="web page and REST API", description="Serve the upload page and the REST API "
                       "(OpenAPI docs at /docs). Binds to 127.0.0.1; any other address needs a token.")
    p.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    p.add_argument("--port", type=_non_negative_int, default=8000, help="(default: %(default)s)")
    p.add_argument("--token", help="required for the page and API (or set MASKWATCH_TOKEN); mandatory off loopback")
    p.add_argument("--source", metavar="SRC", help="also show a live camera/stream with counts (as in `maskwatch video`)")
    p.add_argument("--max-upload-mb", type=_positive_float, default=20.0, help="per request (default: %(default)s)")
    p.add_argument("--max-pixels", type=_positive_int, default=40_000_000, help="per decoded image (default: %(default)s)")
    _add_pipeline_options(p)

    p = sub.add_parser("train", help="train the mask classifier",
                       description="Fine-tune MobileNetV2 on face images and export it to ONNX, with plots and a per-class report.")
    p.add_argument("--data", nargs="+", required=True, metavar="SRC",
                   help="folders of class folders (with_mask/, without_mask/, ...) and/or annotations.json files")
    p.add_argument("--split", help="split.json for the annotations.json sources")
    p.add_argument("--part", help="part of the split to train on (e.g. train)")
    p.add_argument("--out", default="mask_classifier.onnx", help="model to write; plots and report go beside it (default: %(default)s)")
    p.add_argument("--epochs", type=_positive_int, default=3, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="(default: %(default)s)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="peak learning rate (default: %(default)s)")
    p.add_argument("--input-size", type=_min_side, default=112, help="(default: %(default)s)")
    p.add_argument("--val-fraction", type=_unit_float, default=0.15, help="share of photo groups held out (default: %(default)s)")
    p.add_argument("--balance", type=_unit_float, default=0.5,
                   help="draw samples with weight count(class)^-BALANCE: 0 as they come, 1 classes equally (default: %(default)s)")
    p.add_argument("--source-weights", type=_positive_float, nargs="+", metavar="W",
                   help="one factor per --data source on how often its samples are drawn (default: all 1)")
    p.add_argument("--non-faces", nargs="?", const="finetuned", metavar="DETECTOR",
                   help="also learn a not_a_face class from the false detections of this face detector (default: the "
                        "shipped one) in the annotated photos; at inference it lowers those boxes' face_score (photos, "
                        "evaluate and serve; video ignores it)")
    p.add_argument("--synth-incorrect", action="store_true",
                   help="make mask_worn_incorrectly examples from class-folder pairs of a bare photo and its pasted-mask "
                        "copy (12.jpg, 12-with-mask.jpg): the mask pasted lower, uncovering the nose")
    p.add_argument("--teacher", metavar="MODEL",
                   help="distil from this classifier .onnx (e.g. an ensemble from `maskwatch ensemble`) on the same crops")
    p.add_argument("--distill-weight", type=_unit_float, default=0.5,
                   help="with --teacher: share of the loss that follows the teacher rather than the labels (default: %(default)s)")
    p.add_argument("--no-pretrained", action="store_true", help="start from random weights instead of ImageNet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=_positive_int, default=None, help="torch threads (default: all cores, 1 when the machine is busy)")
    p.add_argument("--device", default="auto", help="auto (a GPU when PyTorch sees one), cpu or cuda (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("train-detector", help="fine-tune the face detector on box-annotated photos",
                       description="Fine-tune the shipped RetinaFace detector (face / no face, box placement) on photos "
                                   "with face boxes, and write it as ONNX for --detector.")
    p.add_argument("--data", required=True, nargs="+", metavar="ANNOTATIONS",
                   help="annotations.json files (../shared/data format); ANNOTATIONS:PART takes one part of the split.json beside it")
    p.add_argument("--split", help="split.json")
    p.add_argument("--part", help="part of the split to train on (e.g. train)")
    p.add_argument("--out", default="face_detector.onnx", help="(default: %(default)s)")
    p.add_argument("--epochs", type=_positive_int, default=15, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=8, help="(default: %(default)s)")
    p.add_argument("--lr", type=_positive_float, default=1e-4, help="peak learning rate (default: %(default)s)")
    p.add_argument("--mask-head", action="store_true",
                   help="also train a 3-class mask head, so the detector labels faces itself (see --labels-from)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=_positive_int, default=None)
    p.add_argument("--device", default="auto", help="auto (a GPU when PyTorch sees one), cpu or cuda (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true")
    p = sub.add_parser("ensemble", help="merge classifiers into one model that averages them",
                       description="Write one classifier .onnx whose probabilities are the mean of the given ones "
                                   "(same labels and input size), for --model.")
    p.add_argument("models", nargs="+", metavar="MODEL", help="classifier .onnx files from `maskwatch train`")
    p.add_argument("--out", required=True, help="merged model to write")
    return parser


def _detector_kwargs(args) -> dict:
    kwargs = {"model": args.model, "conf": args.conf, "upscale": args.upscale, "max_side": args.max_side, "threads": args.threads,
              "detector": args.detector, "labels_from": args.labels_from, "pyramid": not args.single_scale}
    if args.raw_boxes:
        kwargs["box_adjust"] = (0.0, 0.0, 0.0, 0.0)
    return kwargs


def _detector(args, **overrides):
    from .pipeline import Detector

    return Detector(**{**_detector_kwargs(args), **overrides})


def cmd_image(args) -> int:
    import contextlib
    import os
    from pathlib import Path

    from .batch import JobSpec, duplicate_stems, run_local
    from .imageio import expand_inputs, is_url
    from .sinks import CsvSink, JsonlSink, JsonSink, ParquetSink
    from .types import LABELS

    stdout_sinks = [name for name, v in (("--json", args.json), ("--csv", args.csv), ("--jsonl", args.jsonl)) if v == "-"]
    if len(stdout_sinks) > 1:
        raise ValueError(f"{' and '.join(stdout_sinks)} cannot all write to stdout")
    if args.resume and (not args.jsonl or args.jsonl == "-"):
        raise ValueError("--resume needs --jsonl FILE (the results written so far tell what to skip)")
    if args.resume and (args.json or args.csv or args.parquet):
        raise ValueError("--resume works with --jsonl only (JSON, CSV and Parquet files are rewritten whole)")
    files = expand_inputs(args.paths)
    if not files:
        raise ValueError(f"no images found in {' '.join(args.paths)}")
    if args.workers < 0:
        raise ValueError("--workers must be 0 or more")
    if args.engine == "ray" and any(is_url(f) for f in files):
        raise ValueError("--engine ray reads local paths and s3://, gs://, ... URIs, not http(s) URLs: "
                         "run those with the local engine")
    if args.blur and args.no_save:
        raise ValueError("--blur pixelates the annotated images, which --no-save turns off")
    out_dir = None if args.no_save else Path(args.out)
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    detector_kwargs = _detector_kwargs(args)
    if args.workers > 0 or args.engine == "ray":
        # Fail here, in one line, rather than in every worker (a failing Pool initializer respawns forever).
        from .pipeline import Detector

        Detector(**{**detector_kwargs, "threads": 1})
    job = JobSpec(detector_kwargs, str(out_dir) if out_dir else None, duplicate_stems(files), blur=args.blur)
    from .pipeline import model_info

    info = model_info(args.model, args.detector, args.labels_from)
    # Summaries go to stderr when stdout carries results, so pipes stay clean.
    report = sys.stderr if stdout_sinks else sys.stdout
    failed = processed = 0
    totals = dict.fromkeys(LABELS, 0)
    with contextlib.ExitStack() as stack:
        sinks = []
        if args.jsonl == "-":
            sinks.append(stack.enter_context(_StdoutJsonl()))
        elif args.jsonl:
            jsonl = stack.enter_context(JsonlSink(args.jsonl, info, resume=args.resume))
            sinks.append(jsonl)
            if jsonl.done:
                before = len(files)
                files = [f for f in files if f not in jsonl.done]
                print(f"maskwatch: resuming: {before - len(files)} file(s) already in {args.jsonl}, {len(files)} to go", file=sys.stderr)
        if args.json:
            sinks.append(stack.enter_context(JsonSink(args.json, info)))
        if args.csv:
            sinks.append(stack.enter_context(CsvSink(args.csv)))
        if args.parquet:
            sinks.append(stack.enter_context(ParquetSink(args.parquet)))
        if args.engine == "ray":
            from .ray_engine import run_ray
            from .types import ImageResult

            # Ray's reader fails the whole job on a missing path: report those here instead.
            missing = [f for f in files if "://" not in f and not os.path.exists(f)]
            missing_set = set(missing)
            present = [f for f in files if f not in missing_set]
            results = _chain([ImageResult(file=f, error=f"cannot read {f}: No such file or directory") for f in missing],
                             run_ray(present, job, workers=args.workers, address=args.address) if present else [])
        else:
            results = run_local(files, job, workers=args.workers)
        show_bar = not args.no_progress and sys.stderr.isatty() and len(files) > 1
        if show_bar:
            from tqdm import tqdm

            results = tqdm(results, total=len(files), unit="img", desc="maskwatch", dynamic_ncols=True)
        try:
            for result in results:
                processed += 1
                for s in sinks:
                    s.append(result)
                if result.error:
                    failed += 1
                    print(f"maskwatch: error: {result.error}", file=sys.stderr)
                    continue
                for label, k in result.counts().items():
                    totals[label] = totals.get(label, 0) + k
                if not args.quiet:
                    print(result.summary(), file=report)
                    for i, f in enumerate(result.faces, 1):
                        box = ", ".join(f"{v:.0f}" for v in f.box)
                        print(f"  face {i}: {f.label} {f.score:.2f} (face {f.face_score:.2f}) at [{box}]", file=report)
        except KeyboardInterrupt:
            print(f"maskwatch: interrupted after {processed} image(s); results so far are written"
                  + (" (continue with --resume)" if args.jsonl and args.jsonl != "-" else ""), file=sys.stderr)
            return 130
    n = len(files)
    tail = f"; annotated images in {out_dir}/" if out_dir else ""
    print(f"{n - failed}/{n} image(s) processed{tail}", file=sys.stderr)
    print(_totals_line(totals), file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _totals_line(totals: dict[str, int]) -> str:
    """'31 faces: 17 with_mask, 8 without_mask, 6 mask_worn_incorrectly; 55 % with a mask worn right'."""
    n = sum(totals.values())
    if not n:
        return "0 faces"
    parts = ", ".join(f"{v} {k}" for k, v in totals.items())
    return f"{n} face{'s' if n != 1 else ''}: {parts}; {totals.get('with_mask', 0) / n:.0%} with a mask worn right"


def _chain(first, rest):
    yield from first
    yield from rest


class _StdoutJsonl:
    def __enter__(self):
        return self

    def append(self, result) -> None:
        import json

        sys.stdout.write(json.dumps(result.to_dict()) + "\n")

    def __exit__(self, *exc):
        sys.stdout.flush()


def cmd_evaluate(args) -> int:
    import json

    from .evaluate import evaluate, plot_pr

    detector = _detector(args)
    result = evaluate(detector, args.annotations, args.split, args.part, progress=sys.stderr.isatty(), bootstrap=args.bootstrap)
    what = f"{args.annotations}" + (f" [{args.part} of {args.split}]" if args.split else "")
    print(f"maskwatch evaluate: {what}\n{result.format()}")
    if args.plot:
        plot_pr(result, args.plot)
        print(f"PR curves: {args.plot}")
    if args.reliability:
        from .calibration import plot_reliability
        from .types import LABELS

        plot_reliability(result.matched_probs, result.matched_truth, LABELS, args.reliability)
        print(f"reliability plot: {args.reliability}")
    if args.json:
        payload = {"data": what, "model": detector.info(), "settings": {"conf": args.conf, "upscale": args.upscale, "pyramid": not args.single_scale,
                   "raw_boxes": args.raw_boxes}, **result.to_dict()}
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)
    return EXIT_OK


def cmd_train(args) -> int:
    from .train.engine import TrainConfig, train

    cfg = TrainConfig(data=args.data, out=args.out, split=args.split, part=args.part, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, input_size=args.input_size, val_fraction=args.val_fraction,
                      balance=args.balance, source_weights=args.source_weights, non_faces=args.non_faces,
                      synth_incorrect=args.synth_incorrect, teacher=args.teacher, distill_weight=args.distill_weight,
                      pretrained=not args.no_pretrained, seed=args.seed, threads=args.threads, device=args.device,
                      progress=not args.no_progress)
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError("--epochs and --batch-size must be at least 1")
    if cfg.teacher and not os.path.isfile(cfg.teacher):  # say so before minutes of loading data
        raise ValueError(f"teacher model not found: {cfg.teacher}")
    if cfg.non_faces and not any(str(d).endswith(".json") for d in cfg.data):
        raise ValueError("--non-faces needs photos with face boxes: give an annotations.json in --data")
    train(cfg, log=lambda msg: print(msg, file=sys.stderr))
    return EXIT_OK


def _stop_on_sigterm() -> None:
    """`docker stop`, systemd and `kill` send SIGTERM: stop as on Ctrl-C, so the video, events
    and summary are still written whole."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _quiet_opencv() -> None:
    # OpenCV's backends log every failed camera/stream open at length; we report one line each.
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def cmd_video(args) -> int:
    import json

    from .video import VideoConfig, run_video

    cfg = VideoConfig(source=args.source, out=args.out, events=args.events, webhook=args.webhook, summary=args.summary,
                      show=args.show, blur=args.blur,
                      detect_every=args.detect_every, max_frames=args.max_frames, fps=args.fps,
                      stall_timeout=args.stall_timeout, reconnect_timeout=args.reconnect_timeout)
    _quiet_opencv()
    _stop_on_sigterm()
    # No mirrored second look at each crop: per-track smoothing over frames does that job, and
    # every millisecond counts at 30 fps.
    detector = _detector(args, flip=False)
    summary = run_video(detector, cfg, log=lambda msg: print(f"maskwatch: {msg}", file=sys.stderr))
    keys = ("stopped", "frames", "fps", "people", "with_mask", "without_mask", "mask_worn_incorrectly", "compliance_rate",
            "frames_dropped", "corrupt_frames", "reconnects")
    print(json.dumps({k: summary[k] for k in keys}))
    if summary["stopped"].startswith("error"):
        print(f"maskwatch: error: {summary['stopped'][7:]}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def cmd_serve(args) -> int:
    import ipaddress
    import os

    token = args.token or os.environ.get("MASKWATCH_TOKEN")
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not token:
        raise ValueError(f"--host {args.host} exposes the service beyond this machine: set --token or MASKWATCH_TOKEN")
    try:
        import uvicorn
    except ImportError:
        raise MaskwatchError("the web service needs FastAPI and uvicorn: pip install 'maskwatch[serve]'") from None
    from .serve.app import ServeConfig, create_app

    if args.source:
        _quiet_opencv()
    cfg = ServeConfig(token=token, max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels, source=args.source,
                      detector_kwargs=_detector_kwargs(args))
    app = create_app(cfg)
    print(f"maskwatch: serving on http://{args.host}:{args.port}/ (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def cmd_train_detector(args) -> int:
    from .train.detector import DetectorTrainConfig, train_detector

    if args.epochs < 1 or args.batch_size < 1:
        raise ValueError("--epochs and --batch-size must be at least 1")
    cfg = DetectorTrainConfig(data=args.data, out=args.out, split=args.split, part=args.part, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, mask_head=args.mask_head, seed=args.seed,
                              threads=args.threads, device=args.device, progress=not args.no_progress)
    train_detector(cfg, log=lambda msg: print(msg, file=sys.stderr))
    return EXIT_OK


def cmd_ensemble(args) -> int:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise MaskwatchError("merging models needs onnx: pip install 'maskwatch[train]'") from None
    from pathlib import Path

    from .train.ensemble import merge_classifiers

    for path in args.models:
        if not Path(path).is_file():
            raise ValueError(f"classifier model not found: {path}")
    merge_classifiers(args.models, args.out)
    print(f"maskwatch: wrote {args.out} (mean of {len(args.models)} classifiers)", file=sys.stderr)
    return EXIT_OK


COMMANDS = {"image": cmd_image, "evaluate": cmd_evaluate, "video": cmd_video, "serve": cmd_serve, "train": cmd_train,
            "train-detector": cmd_train_detector, "ensemble": cmd_ensemble}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    try:
        return COMMANDS[args.command](args)
    except (ValueError, MaskwatchError, OSError) as exc:
        # User-facing failures are one line.
        print(f"maskwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("maskwatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the whole traceback in a file to report
        return _report_bug(exc)


def _report_bug(exc: BaseException) -> int:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="maskwatch-traceback-", suffix=".txt", delete=False) as fh:
        traceback.print_exception(exc, file=fh)
    print(f"maskwatch: internal error: {type(exc).__name__}: {exc} (traceback in {fh.name}; please report it)", file=sys.stderr)
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
