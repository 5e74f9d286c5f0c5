"""What every verb shares: argparse types that check numbers in one line, the pipeline options
(defaults from a preset of maskwatch.settings), the parser with 'did you mean', and the Settings
and Detector those options describe."""

from __future__ import annotations

import argparse

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR, EXIT_BUG = 0, 1, 2, 3


def positive_float(text: str) -> float:
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def non_negative_float(text: str) -> float:
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return v


def non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return v


def int_at_least(low: int, unit: str = ""):
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


min_side = int_at_least(32, " px")
positive_int = int_at_least(1)


def port_number(text: str) -> int:
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 0 and 65535, got {text}")
    return v


def unit_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return v


def add_pipeline_options(p: argparse.ArgumentParser, preset=None, per_preset: str | None = None) -> None:
    """The pipeline's options, with the defaults of `preset` (settings.PHOTO by default).

    per_preset: a verb that runs several presets (serve: photos and the live view) leaves the
    options unset (None) so each preset keeps its own default where the user gave none; the text
    says which defaults apply."""
    from ..settings import FACE_THRESHOLD, LABEL_SOURCES, NON_FACE_AWARE_THRESHOLD, PHOTO

    preset = preset or PHOTO
    from_defaults = "(default: %(default)s)" if not per_preset else f"(default: {per_preset})"
    conf = preset.conf
    p.add_argument(
        "--classifier",
        "--model",
        dest="classifier",
        metavar="FILE",
        help="mask classifier .onnx (--model is the older name) (default: the one shipped with maskwatch)",
    )
    p.add_argument(
        "--detector",
        default=None if per_preset else preset.detector,
        metavar="NAME|FILE",
        help="face detector: finetuned (RetinaFace fine-tuned on mask photos), widerface (RetinaFace as published), "
        "yunet (libfacedetection's YuNet, needs the yuface wheel), or a .onnx from `maskwatch train-detector` "
        "(default: finetuned)",
    )
    p.add_argument(
        "--labels-from",
        choices=LABEL_SOURCES,
        default=None if per_preset else preset.labels_from,
        help="mask label from the crop classifier, the mask head of a detector trained with "
        "train-detector --mask-head, or their mean (default: classifier)",
    )
    p.add_argument(
        "--conf",
        type=unit_float,
        default=None if per_preset else conf,
        help=f"face score threshold {from_defaults}"
        if conf is not None or per_preset
        else f"face score threshold (default: {NON_FACE_AWARE_THRESHOLD} with a classifier that knows non-faces, "
        f"as the shipped one; else {FACE_THRESHOLD})",
    )
    p.add_argument(
        "--upscale",
        type=positive_float,
        default=None if per_preset else preset.upscale,
        help=f"enlarge images by this factor before face detection; finds small faces {from_defaults}",
    )
    p.add_argument(
        "--max-side",
        type=min_side,
        default=None if per_preset else preset.max_side,
        help="cap on the detector's input side, for big photos "
        + ("(default: %(default)s)" if not per_preset else f"(default: {preset.max_side})"),
    )
    p.add_argument("--raw-boxes", action="store_true", help="report the detector's own boxes, without the face-box adjustment")
    p.add_argument(
        "--single-scale",
        action="store_true",
        help="one detector pass at --upscale only (no coarse pass for faces that fill the photo; faster, "
        "but a close-up can come back as several boxes)",
    )
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for inference (default: all cores)")
    p.add_argument(
        "--runtime",
        choices=["auto", "onnxruntime", "openvino", "openvino-bf16"],
        default=None,
        help="inference runtime: onnxruntime (default), openvino (float32, pip install 'maskwatch[openvino]'), "
        "openvino-bf16 (bfloat16 on CPUs that have it), or auto (the fastest of these here, measured once per model)",
    )
    p.add_argument(
        "--parts",
        metavar="ONNX|off",
        default=None,
        help="the part check (nose and mouth looked at closely on faces 40 px and up; reasons for masks worn incorrectly): "
        "a model from `maskwatch train-parts`, or off (default: the shipped one, where there is one)",
    )
    p.add_argument(
        "--part-weight",
        type=non_negative_float,
        default=None,
        metavar="W",
        help="how much the part check's class counts beside the classifier's, p * q**W (default: the model's own)",
    )


class Parser(argparse.ArgumentParser):
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


def settings_from(args, preset=None):
    """The Settings the pipeline options describe, over `preset` (settings.PHOTO by default)."""
    from ..settings import PHOTO

    return (preset or PHOTO).but(
        classifier=args.classifier,
        detector=args.detector,
        conf=args.conf,
        upscale=args.upscale,
        max_side=args.max_side,
        threads=args.threads,
        runtime=getattr(args, "runtime", None),
        parts=getattr(args, "parts", None),
        part_weight=getattr(args, "part_weight", None),
        labels_from=args.labels_from,
        pyramid=not args.single_scale,
        raw_boxes=args.raw_boxes,
    )


def make_detector(args, preset=None, **changes):
    from ..pipeline import Detector

    return Detector(settings_from(args, preset).but(**changes))


def quiet_opencv() -> None:
    # OpenCV's backends log every failed camera/stream open at length; we report one line each.
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def add_state_options(p: argparse.ArgumentParser) -> None:
    """MQTT and Prometheus, for `video` and `site` (docs/integrations.md)."""
    from ..sinks.mqtt import DEFAULT_DISCOVERY_PREFIX, DEFAULT_PREFIX, PASSWORD_ENV, USERNAME_ENV

    g = p.add_argument_group("MQTT and Prometheus")
    g.add_argument(
        "--mqtt",
        metavar="URL",
        help=f"publish counts, health and events to this broker: mqtt://[user@]host[:port], mqtts:// for TLS "
        f"(user and password also from ${USERNAME_ENV} / ${PASSWORD_ENV})",
    )
    g.add_argument("--mqtt-prefix", default=DEFAULT_PREFIX, metavar="TOPIC", help="topic prefix (default: %(default)s)")
    g.add_argument(
        "--mqtt-discovery-prefix",
        default=DEFAULT_DISCOVERY_PREFIX,
        metavar="TOPIC",
        help="Home Assistant discovery prefix, or 'none' for no discovery (default: %(default)s)",
    )
    g.add_argument("--mqtt-password-file", metavar="FILE", help="read the MQTT password from this file")
    g.add_argument("--mqtt-ca", metavar="FILE", help="CA certificate for TLS (default: the system's)")
    g.add_argument("--metrics-port", type=port_number, metavar="PORT", help="serve Prometheus metrics on http://HOST:PORT/metrics")
    g.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST", help="address for --metrics-port (default: %(default)s)")


def mqtt_target(args):
    """The MqttTarget the options ask for, or None; one-line ValueErrors."""
    if not args.mqtt:
        for opt in ("mqtt_password_file", "mqtt_ca"):
            if getattr(args, opt):
                raise ValueError(f"--{opt.replace('_', '-')} needs --mqtt URL")
        return None
    from ..sinks.mqtt import MqttTarget

    discovery = None if args.mqtt_discovery_prefix.lower() == "none" else args.mqtt_discovery_prefix
    return MqttTarget.from_options(args.mqtt, args.mqtt_prefix, discovery, args.mqtt_password_file, args.mqtt_ca)


def add_counter_options(p) -> None:
    """--line and --zone (maskwatch video, and serve's live view)."""
    p.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="NAME=x1,y1,x2,y2",
        help="count people crossing this line, per direction and label (fractions of the frame; repeatable). "
        "Standing at (x1,y1) looking to (x2,y2), crossing from your right to your left is 'in': door=0.5,0,0.5,1 "
        "counts left-to-right on screen as in (swap the points to swap)",
    )
    p.add_argument(
        "--zone",
        action="append",
        default=[],
        metavar="NAME=x1,y1,x2,y2,x3,y3,...",
        help="count people in this polygon now and entering it, per label, and how long they stay (fractions; repeatable)",
    )


def stop_on_sigterm() -> None:
    """`docker stop`, systemd and `kill` send SIGTERM: stop as on Ctrl-C, so the video, events
    and summary are still written whole."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def add_review_options(p) -> None:
    """--review STORE: keep the faces the models are unsure of, for a person to label (the same
    for photos and video)."""
    p.add_argument(
        "--review", metavar="STORE", help="keep the faces the model is unsure of (and a few sure ones) in this review store (a folder)"
    )
    p.add_argument(
        "--review-per-hour",
        type=positive_int,
        default=None,
        metavar="N",
        help="with --review: at most N faces per camera per hour, the least sure kept (default: 500)",
    )
    p.add_argument(
        "--review-keep",
        choices=["unsure", "all"],
        default="unsure",
        help="with --review: the faces the model is unsure of and a few sure ones (default), or every face (a person labels all)",
    )


def review_sink(args, detector, camera: str):
    """The ReviewSink --review asks for, or None."""
    if not getattr(args, "review", None):
        return None
    import sys

    from ..review.sink import ReviewSink

    policy = review_policy(args)
    return ReviewSink(
        args.review,
        conf=detector.settings.conf,
        margin=detector.classifier.margin,
        model=detector.info().get("classifier"),
        camera=camera,
        policy=policy,
        log=lambda m: print(f"maskwatch: {m}", file=sys.stderr),
    )


def review_policy(args):
    """The ReviewPolicy of --review-per-hour and --review-keep."""
    from ..review.select import ReviewPolicy

    changes = {"keep_all": getattr(args, "review_keep", "unsure") == "all"}
    if getattr(args, "review_per_hour", None) is not None:
        changes["per_hour"] = args.review_per_hour
    return ReviewPolicy(**changes)
