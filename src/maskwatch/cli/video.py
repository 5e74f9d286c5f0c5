"""`maskwatch video`: detect, track and count in files, webcams and streams."""

from __future__ import annotations

import sys

from ..settings import CLASS_PRIORS, VIDEO, VIDEO_DEFAULTS
from ..video.places import place_counters
from .options import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    add_counter_options,
    add_pipeline_options,
    add_review_options,
    add_state_options,
    make_detector,
    mqtt_target,
    positive_float,
    positive_int,
    quiet_opencv,
    review_policy,
)


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
    add_counter_options(p)
    p.add_argument("--blur", action="store_true", help="pixelate every face in the written/shown video (counts stay)")
    p.add_argument(
        "--detect-every",
        type=positive_int,
        default=VIDEO_DEFAULTS.detect_every,
        metavar="N",
        help="run detection every Nth frame; the tracker carries boxes in between (default: %(default)s)",
    )
    p.add_argument("--max-frames", type=positive_int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=positive_float, default=None, help="frame rate for a folder of frames (default 25) or to override")
    p.add_argument(
        "--stall-timeout",
        type=positive_float,
        default=VIDEO_DEFAULTS.stall_timeout,
        help="seconds without data before a stream counts as stalled (default: %(default)s)",
    )
    p.add_argument(
        "--reconnect-timeout",
        type=positive_float,
        default=VIDEO_DEFAULTS.reconnect_timeout,
        help="seconds to keep reconnecting a lost stream (default: %(default)s)",
    )
    p.add_argument(
        "--class-prior",
        choices=CLASS_PRIORS,
        default=VIDEO_DEFAULTS.class_prior,
        help="balanced: label people as if every class were equally common (the classifier learnt that incorrectly "
        "worn masks are rare, and otherwise undercounts them); trained: the classifier's probabilities as they are "
        "(default: %(default)s)",
    )
    p.add_argument("--name", metavar="NAME", help="the camera's name in MQTT topics and metrics (default: from the source)")
    add_state_options(p)
    add_review_options(p)
    add_pipeline_options(p, VIDEO)


class _SignalStop:
    """Ctrl-C or SIGTERM ask the run to stop after the frame in hand (an exception raised in the
    middle of a frame could count it without writing it to the video); a second one stops at once."""

    reason = "interrupted"

    def __init__(self):
        import signal
        import threading

        self._event = threading.Event()

        def ask(signum, frame):
            if self._event.is_set():
                raise KeyboardInterrupt
            self._event.set()

        signal.signal(signal.SIGINT, ask)
        signal.signal(signal.SIGTERM, ask)

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()


def run(args) -> int:
    import json

    from ..settings import VideoSettings
    from ..video.run import VideoConfig, run_video

    cfg = VideoConfig(
        source=args.source,
        counters=place_counters(args.line, args.zone),
        out=args.out,
        events=args.events,
        webhook=args.webhook,
        mqtt=mqtt_target(args),
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        name=args.name,
        summary=args.summary,
        show=args.show,
        blur=args.blur,
        video=VideoSettings(
            detect_every=args.detect_every,
            class_prior=args.class_prior,
            stall_timeout=args.stall_timeout,
            reconnect_timeout=args.reconnect_timeout,
        ),
        max_frames=args.max_frames,
        fps=args.fps,
        stop=_SignalStop(),
    )
    quiet_opencv()
    detector = make_detector(args, VIDEO)
    if args.review:
        from ..review.video import TrackReviewer
        from ..video.run import camera_name

        policy = review_policy(args)
        cfg.reviewer = TrackReviewer(
            args.review,
            args.name or camera_name(args.source),
            args.source,
            detector.settings.conf,
            detector.classifier.margin,
            detector.info().get("classifier"),
            policy,
            log=lambda msg: print(f"maskwatch: {msg}", file=sys.stderr),
        )
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
    if cfg.reviewer is not None:
        print(f"review: {cfg.reviewer.kept} face(s) kept for a look in {args.review} (of {cfg.reviewer.tracks} people)", file=sys.stderr)
    if summary["stopped"].startswith("error"):
        print(f"maskwatch: error: {summary['stopped'][7:]}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK
