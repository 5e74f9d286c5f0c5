"""`maskwatch video`: detect, track and count in files, webcams and streams."""

from __future__ import annotations

import sys

from .options import EXIT_OK, EXIT_SOME_FAILED, add_pipeline_options, make_detector, positive_float, positive_int, quiet_opencv


def add_parser(sub) -> None:
    p = sub.add_parser(
        "video",
        help="detect, track and count masks in video, webcams and streams",
        description="Run on a webcam (0), a video file, an rtsp:// or http(s):// stream, or a folder of frames. "
        "Ctrl-C or SIGTERM stops cleanly and still writes the video, events and summary.",
    )
    p.add_argument("--source", required=True, metavar="SRC", help="webcam index, video file, stream URL, or folder of frames")
    p.add_argument("--show", action="store_true", help="show a window (quit with q or Esc)")
    p.add_argument("--out", metavar="VIDEO", help="write the annotated video (.mp4 or .avi)")
    p.add_argument("--events", metavar="JSONL", help="one JSON line per event: track appears, changes label, ends")
    p.add_argument(
        "--webhook",
        metavar="URL",
        help="also POST each event as JSON to this http(s) URL (alerting; sent from a background thread, failures counted in the summary)",
    )
    p.add_argument("--summary", metavar="JSON", help="counts, compliance rate, per-minute series, timings")
    p.add_argument("--blur", action="store_true", help="pixelate every face in the written/shown video (counts stay)")
    p.add_argument(
        "--detect-every",
        type=positive_int,
        default=1,
        metavar="N",
        help="run detection every Nth frame; the tracker carries boxes in between (default: %(default)s)",
    )
    p.add_argument("--max-frames", type=positive_int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=positive_float, default=None, help="frame rate for a folder of frames (default 25) or to override")
    p.add_argument(
        "--stall-timeout",
        type=positive_float,
        default=5.0,
        help="seconds without data before a stream counts as stalled (default: %(default)s)",
    )
    p.add_argument(
        "--reconnect-timeout", type=positive_float, default=30.0, help="seconds to keep reconnecting a lost stream (default: %(default)s)"
    )
    p.add_argument(
        "--class-prior",
        choices=("balanced", "trained"),  # video.CLASS_PRIORS (not imported: --help stays light)
        default="balanced",
        help="balanced: label people as if every class were equally common (the classifier learnt that incorrectly "
        "worn masks are rare, and otherwise undercounts them); trained: the classifier's probabilities as they are "
        "(default: %(default)s)",
    )
    add_pipeline_options(p, upscale=1.0, conf=0.5)  # video.VIDEO_UPSCALE, VIDEO_FACE_THRESHOLD (not imported: --help stays light)


def _stop_on_sigterm() -> None:
    """`docker stop`, systemd and `kill` send SIGTERM: stop as on Ctrl-C, so the video, events
    and summary are still written whole."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def run(args) -> int:
    import json

    from ..video import VideoConfig, run_video

    cfg = VideoConfig(
        source=args.source,
        out=args.out,
        events=args.events,
        webhook=args.webhook,
        summary=args.summary,
        show=args.show,
        blur=args.blur,
        detect_every=args.detect_every,
        max_frames=args.max_frames,
        fps=args.fps,
        stall_timeout=args.stall_timeout,
        reconnect_timeout=args.reconnect_timeout,
        class_prior=args.class_prior,
    )
    quiet_opencv()
    _stop_on_sigterm()
    # No mirrored second look at each crop: per-track smoothing over frames does that job, and
    # every millisecond counts at 30 fps.
    detector = make_detector(args, flip=False)
    summary = run_video(detector, cfg, log=lambda msg: print(f"maskwatch: {msg}", file=sys.stderr))
    keys = (
        "stopped",
        "frames",
        "fps",
        "people",
        "with_mask",
        "without_mask",
        "mask_worn_incorrectly",
        "compliance_rate",
        "frames_dropped",
        "corrupt_frames",
        "reconnects",
    )
    print(json.dumps({k: summary[k] for k in keys}))
    if summary["stopped"].startswith("error"):
        print(f"maskwatch: error: {summary['stopped'][7:]}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK
