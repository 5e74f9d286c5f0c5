"""Milliseconds per photo: the in-browser page (`maskwatch export-web`, Chromium, ONNX Runtime Web
wasm) against the Python pipeline (`maskwatch image`'s Detector) on the same photos.

Timed inside each: detection and classification of an already decoded photo (the page's
window.maskwatchTimings; Detector.detect on a decoded array), after one warm-up photo. The page
runs single-threaded from a plain file server, and with threads when the server sends the
cross-origin isolation headers (as `maskwatch serve --in-browser` does).

    python benchmarks/bench_web.py                      # shipped examples + 50 kaggle-853 test photos
    python benchmarks/bench_web.py --photos 20 --json bench_web.json
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


class Handler(http.server.SimpleHTTPRequestHandler):
    isolated = False

    def end_headers(self):
        if self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args):
        pass


def photos_for(n: int) -> list[Path]:
    photos = sorted((ROOT / "examples").glob("*.jpg"))
    kaggle = ROOT.parent / "shared" / "data" / "kaggle-853"
    if (kaggle / "split.json").is_file():
        photos += [kaggle / f for f in sorted(json.loads((kaggle / "split.json").read_text())["test"])[:n]]
    return photos


def browser_ms(site: Path, photos: list[Path], isolated: bool, chromium: str) -> tuple[list[float], str]:
    from playwright.sync_api import sync_playwright

    handler = functools.partial(type("H", (Handler,), {"isolated": isolated}), directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/")
            page.wait_for_function("window.maskwatchReady === true", timeout=120000)
            engine = page.inner_text("#engine")
            files = [str(photos[0])] + [str(p) for p in photos]  # the first is a warm-up
            page.set_input_files("#pick", files)
            page.wait_for_function(f"window.maskwatchResults.length === {len(files)}", timeout=1800000)
            ms = page.evaluate("window.maskwatchTimings")[1:]
            b.close()
    finally:
        httpd.shutdown()
    return ms, engine


def python_ms(photos: list[Path], threads: int) -> list[float]:
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector

    d = Detector(threads=threads)
    images = [read_image(p) for p in photos]
    d.detect(images[0])
    out = []
    for im in images:
        t0 = time.perf_counter()
        d.detect(im)
        out.append(1000 * (time.perf_counter() - t0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=50, help="kaggle-853 test photos on top of the examples (default: %(default)s)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    from maskwatch.web.export import export_web

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("bench_web: Chromium not found (setup.sh installs it from Debian)")
    photos = photos_for(args.photos)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        site = export_web(tmp)
        for isolated in (False, True):
            ms, engine = browser_ms(site, photos, isolated, chromium)
            rows[f"browser, {engine.split('(')[1].split(')')[0]}"] = ms
    for threads in (1, 2):
        rows[f"python (onnxruntime), {threads} thread{'s' if threads > 1 else ''}"] = python_ms(photos, threads)
    print(f"{len(photos)} photos (shipped examples + kaggle-853 test), detection + classification of a decoded photo:")
    print(f"{'runtime':44s} {'mean ms':>8s} {'median':>8s}")
    for name, ms in rows.items():
        print(f"{name:44s} {statistics.mean(ms):8.1f} {statistics.median(ms):8.1f}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({k: {"mean_ms": statistics.mean(v), "median_ms": statistics.median(v)} for k, v in rows.items()}, indent=1)
        )


if __name__ == "__main__":
    main()
