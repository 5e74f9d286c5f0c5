"""`maskwatch site`: every camera of a site file in one process, with one set of models."""

from __future__ import annotations

import sys

from ..settings import VIDEO
from .options import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    add_pipeline_options,
    add_state_options,
    make_detector,
    mqtt_target,
    positive_float,
    quiet_opencv,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "site",
        help="run many cameras from one site file (lines, zones, counts per camera and in total)",
        description="Run every camera of a TOML site file (see docs/site.md) in one process with one set of models. "
        "Ctrl-C or SIGTERM stops all cameras cleanly and writes every summary.",
    )
    p.add_argument("file", metavar="SITE.toml", help="the site file: [[cameras]] with name, source, detect_fps, lines, zones")
    p.add_argument("--summary", metavar="JSON", help="write the site summary here (overrides [outputs] summary)")
    p.add_argument("--events", metavar="JSONL", help="every camera's events here (overrides [outputs] events)")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: every camera in this process; ray: each camera an actor on a Ray cluster, restarted on another "
        "node when its node is lost (default: %(default)s)",
    )
    p.add_argument("--address", help="with --engine ray: the cluster (HOST:PORT of its head, or auto); default: a local Ray")
    p.add_argument(
        "--camera-cpus",
        type=positive_float,
        default=1.0,
        metavar="N",
        help="with --engine ray: CPUs reserved per camera actor; a cluster needs room for a lost node's cameras (default: %(default)s)",
    )
    add_state_options(p)  # on the command line, they override [outputs]
    p.add_argument(
        "--review", metavar="STORE", help="keep the faces the model is unsure of in this review store (overrides [review] store)"
    )
    add_pipeline_options(p, VIDEO)


def run(args) -> int:
    import json
    from dataclasses import replace

    from ..video.site import check_site_outputs, load_site, run_site
    from .options import stop_on_sigterm

    site = load_site(args.file)
    site = replace(
        site,
        summary=args.summary or site.summary,
        events=args.events or site.events,
        mqtt=mqtt_target(args) or site.mqtt,
        metrics_port=args.metrics_port if args.metrics_port is not None else site.metrics_port,
        metrics_host=args.metrics_host if args.metrics_port is not None else site.metrics_host,
        review_store=args.review or site.review_store,
    )
    check_site_outputs(site)  # before any model or camera
    from ..video.memory import tune_allocator

    tune_allocator()  # before the models and camera threads allocate (#44: RSS of a long soak)
    quiet_opencv()
    stop_on_sigterm()
    if site.review_store:
        from ..review.store import ReviewStore

        ReviewStore(site.review_store)  # a newer or damaged store is one line, before any camera
    # The site file's classifier (e.g. one `train --reviews` made for it) unless --classifier names
    # one; the same for its runtime and part check.
    changes = {"classifier": site.classifier} if site.classifier and not args.classifier else {}
    if site.runtime and not args.runtime:
        changes["runtime"] = site.runtime
    if site.parts and not args.parts:
        changes["parts"] = site.parts
    detector = make_detector(args, VIDEO, **changes)  # a bad model option is one line here, before any cluster work
    log = lambda msg: print(f"maskwatch: {msg}", file=sys.stderr)  # noqa: E731
    if args.engine == "ray":
        from ..video.ray_site import run_site_ray

        summary = run_site_ray(
            detector.settings, site, args.address, log=log, camera_cpus=args.camera_cpus, labels=detector.classifier.labels
        )
    else:
        from ..video.memory import trimmer

        summary = run_site(detector, site, log=log, on_tick=trimmer())
    for name, cam in summary["cameras"].items():
        h = cam["health"]
        print(
            json.dumps(
                {
                    "camera": name,
                    "state": h["state"],
                    "frames": h["frames_analysed"],
                    "people": cam["people"],
                    "compliance_rate": cam["compliance_rate"],
                    "error": h["error"],
                }
            )
        )
    print(json.dumps({"totals": summary["totals"]}))
    failed = [n for n, c in summary["cameras"].items() if c["health"]["error"]]
    if failed:
        print(f"maskwatch: error: camera(s) {', '.join(failed)} failed; the others' results are written", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK
