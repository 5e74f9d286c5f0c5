"""`maskwatch export-web DIR`: the static page that runs the models in the browser."""

from __future__ import annotations

from .options import EXIT_OK


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export-web",
        help="write a static web page that finds and labels faces in the browser (nothing leaves the device)",
        description="Write a static page (HTML, JavaScript, the shipped models and ONNX Runtime Web's wasm) to DIR. "
        "Serve DIR with any web server, e.g. python -m http.server -d DIR; photos and the camera stay on the device.",
    )
    p.add_argument("out", metavar="DIR", help="folder to write (created)")
    p.add_argument("--ort", metavar="DIR", help="the dist folder of npm onnxruntime-web (default: web/node_modules of this checkout)")


def run(args) -> int:
    from ..web.export import export_web

    out = export_web(args.out, args.ort)
    print(f"wrote the page to {out}: serve it with  python -m http.server -d {out}")
    return EXIT_OK
