"""`maskwatch serve`: the web page, REST API and live view."""

from __future__ import annotations

import sys

from ..errors import MaskwatchError
from ..serve.body_guard import BODY_TIMEOUT_S, IDLE_TIMEOUT_S
from .options import (
    EXIT_OK,
    add_counter_options,
    add_pipeline_options,
    port_number,
    positive_float,
    positive_int,
    quiet_opencv,
    settings_from,
)


def check_port_free(host: str, port: int) -> None:
    """A port in use is the user's to fix: one line and exit 2, before the models load."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ValueError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror} (is another server running there? use --port)") from None


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="web page and REST API",
        description="Serve the upload page and the REST API (OpenAPI docs at /docs). Binds to 127.0.0.1; any other address needs a token.",
    )
    p.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    p.add_argument("--port", type=port_number, default=8000, help="(default: %(default)s)")
    p.add_argument("--token", help="required for the page and API (or set MASKWATCH_TOKEN); mandatory off loopback")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this Host name (a reverse proxy's); a loopback server answers only its own names",
    )
    p.add_argument("--source", metavar="SRC", help="also show a live camera/stream with counts (as in `maskwatch video`)")
    p.add_argument("--review", metavar="STORE", help="answer the faces of a review store at /review (keys 1 2 3 0, s to skip, u to undo)")
    p.add_argument("--site", metavar="SITE.toml", help="also run every camera of a site file and show them at /site (JSON at /api/site)")
    add_counter_options(p)  # drawn and counted in the live view (--source)
    p.add_argument(
        "--in-browser",
        action="store_true",
        help="also serve, at /local/, the page that runs the models in the visitor's browser (as export-web writes it; "
        "photos and camera frames stay on their device)",
    )
    p.add_argument("--max-upload-mb", type=positive_float, default=20.0, help="per request (default: %(default)s)")
    p.add_argument("--max-pixels", type=positive_int, default=40_000_000, help="per decoded image (default: %(default)s)")
    p.add_argument(
        "--body-timeout",
        type=positive_float,
        default=BODY_TIMEOUT_S,
        help=f"seconds an upload may take to arrive in all; {IDLE_TIMEOUT_S:g} s at most between its parts (default: %(default)s)",
    )
    add_pipeline_options(p, per_preset="as `maskwatch image` for uploads, as `maskwatch video` for the live view")


def run(args) -> int:
    import ipaddress
    import os

    token = args.token if args.token is not None else os.environ.get("MASKWATCH_TOKEN")
    if token is not None and (not token.strip() or token != token.strip() or any(ord(c) < 33 or ord(c) > 126 for c in token)):
        raise ValueError("--token: use printable characters with no spaces (it travels in an HTTP header)")
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
    from ..serve.app import create_app

    check_port_free(args.host, args.port)
    if (args.line or args.zone) and not args.source:
        raise ValueError("--line and --zone count in the live view: give --source too")
    from ..video.places import place_counters

    place_counters(args.line, args.zone)  # a bad line or zone is one line now, not a dead live view

    site = None
    if args.site:
        from ..video.site import load_site

        site = load_site(args.site)  # a bad file is one line before the models load
    if args.review:
        from ..review.store import ReviewStore

        ReviewStore(args.review, create=False)  # a missing, newer or damaged store is one line now
    if args.source or args.site:
        from ..video.tracking import load_bytetrack

        load_bytetrack()  # the live view tracks people: say so now if the extra is missing
        quiet_opencv()
    app = create_app(serve_config(args, token, site))
    print(
        f"maskwatch: serving on http://{args.host}:{args.port}/ (API docs at /docs"
        + ("; the site at /site" if site else "")
        + ("; the review page at /review" if args.review else "")
        + ("; the in-browser page at /local/" if args.in_browser else "")
        + ")",
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def serve_config(args, token: str | None, site=None):
    """The ServeConfig the options describe. The upload API and the live view each keep their own
    defaults (photo, video); what the user gave applies to both (`--upscale` included)."""
    from ..serve.app import ServeConfig, allowed_hosts
    from ..settings import PHOTO, VIDEO

    return ServeConfig(
        allowed_hosts=allowed_hosts(args.host, args.allow_host),
        token=token,
        max_upload_mb=args.max_upload_mb,
        max_pixels=args.max_pixels,
        body_timeout=args.body_timeout,
        idle_timeout=min(IDLE_TIMEOUT_S, args.body_timeout),
        source=args.source,
        site=site,
        review=args.review,
        settings=settings_from(args, PHOTO),
        live_settings=settings_from(args, VIDEO),
        in_browser=args.in_browser,
        lines=tuple(args.line),
        zones=tuple(args.zone),
    )
