"""The static page (`maskwatch export-web`) in a real Chromium: the same faces as `maskwatch image`,
the camera path on Chromium's fake camera, and no request off the page's own origin."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from maskwatch.boxes import greedy_match, iou_matrix

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PARITY_PHOTOS = 50  # kaggle-853 test photos, on top of the shipped examples


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from maskwatch.errors import MaskwatchError
    from maskwatch.web.export import export_web

    out = tmp_path_factory.mktemp("site")
    try:
        export_web(out)
    except MaskwatchError as exc:
        pytest.skip(f"{exc} (setup.sh fetches it with npm)")
    handler = functools.partial(_QuietHandler, directory=str(out))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # Cross-origin isolated, as `serve --in-browser` serves the page: wasm gets its threads.
    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian chromium is not installed (setup.sh installs it where it can)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p, chromium


def open_page(browser, site, extra_args=(), requests=None):
    p, chromium = browser
    b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS + list(extra_args))
    page = b.new_page()
    if requests is not None:
        page.on("request", lambda r: requests.append(r.url))
    page.goto(site + "/")
    page.wait_for_function("window.maskwatchReady === true", timeout=60000)
    return b, page


def test_export_web_without_the_runtime_is_a_one_line_error(tmp_path, capsys):
    from maskwatch.cli import EXIT_ERROR, main

    assert main(["export-web", str(tmp_path / "out"), "--ort", str(tmp_path)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "ONNX Runtime Web" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_photos_in_the_browser_match_maskwatch_image(site, browser, examples, tmp_path):
    from maskwatch.cli import main

    photos = sorted(examples.glob("*.jpg"))
    kaggle = Path(__file__).resolve().parents[2] / "shared" / "data" / "kaggle-853"
    if (kaggle / "split.json").is_file():
        test = sorted(json.loads((kaggle / "split.json").read_text())["test"])
        photos += [kaggle / f for f in test[:PARITY_PHOTOS]]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "python.json"
    assert main(["image", *map(str, photos), "--json", str(out), "--no-save", "--threads", "2"]) == 0
    python = {Path(r["file"]).name: r for r in json.loads(out.read_text())["images"]}
    requests: list[str] = []
    b, page = open_page(browser, site, requests=requests)
    try:
        page.set_input_files("#pick", [str(p) for p in photos] + [str(bad)])
        page.wait_for_function(f"window.maskwatchResults.length === {len(photos) + 1}", timeout=600000)
        results = page.evaluate("window.maskwatchResults")
        timings = page.evaluate("window.maskwatchTimings")
    finally:
        b.close()
    browser_by_file = {r["file"]: r for r in results}
    assert browser_by_file["broken.jpg"]["error"] and "not a readable image" in browser_by_file["broken.jpg"]["error"]
    faces = matched = same_label = photos_same_count = 0
    score_gap = 0.0
    for name, py in python.items():
        js = browser_by_file[name]
        assert js["error"] is None and (js["width"], js["height"]) == (py["width"], py["height"])
        photos_same_count += len(js["faces"]) == len(py["faces"])
        if len(js["faces"]) != len(py["faces"]):
            print(name, [(f["box"], f["face_score"]) for f in py["faces"]], [(f["box"], f["face_score"]) for f in js["faces"]])
        a = [f["box"] for f in py["faces"]]
        bb = [f["box"] for f in js["faces"]]
        pairs = greedy_match(iou_matrix(a, bb), 0.9) if a and bb else []
        faces += max(len(a), len(bb))
        matched += len(pairs)
        same_label += sum(py["faces"][i]["label"] == js["faces"][j]["label"] for i, j in pairs)
        score_gap = max([score_gap] + [abs(py["faces"][i]["face_score"] - js["faces"][j]["face_score"]) for i, j in pairs])
    print(
        f"\nparity over {len(python)} photos: {matched}/{faces} faces matched at IoU >= 0.9, "
        f"{same_label}/{faces} with the same label, {photos_same_count}/{len(python)} photos with the same count, "
        f"face scores within {score_gap:.4f}; "
        f"browser {sum(timings) / len(timings):.0f} ms per photo (wasm, 2 threads: cross-origin isolated)"
    )
    assert same_label >= 0.98 * faces
    assert photos_same_count == len(python)
    origin = site + "/"
    off_origin = [u for u in requests if not u.startswith(origin) and not u.startswith(("data:", "blob:"))]
    assert requests and not off_origin


def write_y4m(clip: Path, out: Path, tail_frames: int) -> float:
    """The clip as a .y4m for Chromium's fake camera, then `tail_frames` of its first frame's
    background (no face) so that the people are all counted before the fake camera loops."""
    import cv2

    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    h, w = frames[0].shape[:2]
    background = frames[-1]  # the walks are over by the last frame
    with out.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{round(fps)}:1 Ip A1:1 C420jpeg\n".encode())
        for f in frames + [background] * tail_frames:
            fh.write(b"FRAME\n" + cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420).tobytes())
    return len(frames) / fps


def test_camera_counts_people_as_maskwatch_video_does(site, browser, walk_clip, tmp_path):
    from maskwatch.cli import main

    summary = tmp_path / "summary.json"
    assert main(["video", "--source", str(walk_clip), "--summary", str(summary), "--threads", "2"]) == 0
    expected = json.loads(summary.read_text())["people"]
    y4m = tmp_path / "walk.y4m"
    seconds = write_y4m(walk_clip, y4m, tail_frames=100)
    requests: list[str] = []
    b, page = open_page(
        browser,
        site,
        ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={y4m}"],
        requests,
    )
    try:
        page.click("#cam")
        # Counted once the clip is over and before the fake camera starts it again.
        page.wait_for_function(f"window.maskwatchLive.seconds >= {seconds + 0.5}", timeout=120000)
        live = page.evaluate("window.maskwatchLive")
        page.click("#cam")
    finally:
        b.close()
    print(
        f"\ncamera: {live['people']} people in the browser, {expected} by maskwatch video; "
        f"{live['frames']} frames analysed, {live['ms_per_frame']:.0f} ms per frame"
    )
    assert live["frames"] >= 2 * expected  # it analysed the clip, not a frame or two
    assert abs(live["people"] - expected) <= 1 and live["people"] >= 1
    assert not [u for u in requests if not u.startswith(site + "/") and not u.startswith(("data:", "blob:"))]


def test_serve_in_browser_page_is_isolated_for_threads_and_open_without_the_token(browser, examples):
    from maskwatch.web.export import find_ort

    try:
        find_ort()
    except Exception as exc:
        pytest.skip(str(exc))
    from test_serve import Server, get

    s = Server("--in-browser", "--token", "s3cret")
    try:
        assert get(s.url + "/api/health")[0] == 401  # the API stays behind the token
        status, body = get(s.url + "/local/config.json")
        assert status == 200 and json.loads(body)["modes"]["photo"]["conf"] == 0.25
        assert get(s.url + "/local/%2e%2e/%2e%2e/etc/passwd")[0] == 404
        assert get(s.url + "/local/%00")[0] == 404 and get(s.url + "/local/a%00.js")[0] == 404  # was a 500
        requests: list[str] = []
        b, page = open_page(browser, s.url + "/local", requests=requests)
        try:
            assert page.evaluate("self.crossOriginIsolated") is True
            assert "threads" in page.inner_text("#engine")  # wasm threads where the device has cores
            page.set_input_files("#pick", [str(examples / "crowd_495.jpg")])
            page.wait_for_function("window.maskwatchResults.length === 1", timeout=120000)
            assert len(page.evaluate("window.maskwatchResults")[0]["faces"]) >= 6
        finally:
            b.close()
        assert not [u for u in requests if not u.startswith(s.url + "/local/")]
    finally:
        s.stop()


RESIZE_CHECK = """
import {resize, cropFace} from "%s";
import fs from "fs";
const cases = JSON.parse(fs.readFileSync(process.argv[2]));
const out = [];
for (const c of cases) {
  const img = {data: new Uint8Array(fs.readFileSync(c.src)), width: c.w, height: c.h};
  const r = c.box ? cropFace(img, c.box, c.margin, c.size) : resize(img, c.dw, c.dh, c.area);
  fs.writeFileSync(c.out, r.data);
}
"""


def test_pipeline_js_resizes_and_crops_as_opencv_does_byte_for_byte(tmp_path):
    """The page's resizes (INTER_LINEAR up, INTER_AREA down, crops) give cv2's bytes exactly:
    what makes its faces the Python pipeline's."""
    import subprocess

    import cv2
    import numpy as np

    from maskwatch.crops import crop_face

    node = shutil.which("node")
    if not node:
        pytest.skip("Node.js is not installed")
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (157, 233, 3), dtype=np.uint8), (0, 0), 1.5)
    src = tmp_path / "src.bin"
    img.tofile(src)
    cases, expected = [], []
    for k, (dw, dh, area) in enumerate(
        [(524, 353, False), (700, 471, False), (117, 79, True), (90, 61, True), (112, 112, True), (233, 157, False)]
    ):
        cases.append({"src": str(src), "w": 233, "h": 157, "dw": dw, "dh": dh, "area": area, "out": str(tmp_path / f"r{k}.bin")})
        expected.append(cv2.resize(img, (dw, dh), interpolation=cv2.INTER_AREA if area else cv2.INTER_LINEAR))
    for k, box in enumerate([(10.3, 20.7, 40.1, 61.9), (200.5, 120.2, 240.0, 170.0), (30, 5, 190, 150)]):  # small, off the edge, large
        cases.append({"src": str(src), "w": 233, "h": 157, "box": box, "margin": 0.15, "size": 112, "out": str(tmp_path / f"c{k}.bin")})
        expected.append(crop_face(img, box, 0.15, 112))
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = tmp_path / "check.mjs"
    script.write_text(RESIZE_CHECK % (Path(__file__).resolve().parents[1] / "src" / "maskwatch" / "web" / "pipeline.js").as_posix())
    subprocess.run([node, str(script), str(tmp_path / "cases.json")], check=True, timeout=60)
    for case, want in zip(cases, expected):
        got = np.fromfile(case["out"], np.uint8)
        assert got.size == want.size and np.array_equal(got, want.reshape(-1)), case


def test_the_page_under_a_hostile_user(site, browser, examples, tmp_path):
    """#45 item 11: photos picked while the models load, a batch's progress and totals, the same
    photo twice, CSV and JSON downloads with the header, clear, small drawings, file://."""
    import csv
    import io
    import time

    p, chromium = browser
    b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
    try:
        page = b.new_page()

        def slow_config(route):  # the models load slowly: photos are picked before they are ready
            time.sleep(2)
            route.continue_()

        page.route("**/config.json", slow_config)
        page.goto(site + "/", wait_until="domcontentloaded")
        photos = [str(f) for f in sorted(examples.glob("*.jpg"))]
        page.set_input_files("#pick", photos[:2])
        assert not page.evaluate("window.maskwatchReady === true")
        page.wait_for_function("window.maskwatchResults.length === 2", timeout=120000)
        page.wait_for_function("document.querySelector('#t-photos') !== null", timeout=10000)
        # The same photo again counts once; a batch says where it is.
        page.set_input_files("#pick", photos[:3])
        page.wait_for_function("window.maskwatchResults.length === 3", timeout=120000)
        page.wait_for_function("!document.querySelector('.busy')", timeout=30000)
        assert "already analysed" in page.inner_text("#status")
        assert page.inner_text("#t-photos").startswith("3 photo")
        widths = page.evaluate("[...document.querySelectorAll('#results canvas')].map((c) => c.width)")
        assert len(widths) == 3 and max(widths) <= 1200
        with page.expect_download() as dl:
            page.click("#dl-json")
        doc = json.loads(Path(dl.value.path()).read_text())
        assert set(doc) == {"model", "settings", "images"} and doc["model"]["classifier"] and len(doc["images"]) == 3
        with page.expect_download() as dl:
            page.click("#dl-csv")
        rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
        assert len(rows) == sum(len(r["faces"]) for r in doc["images"]) and {"file", "label", "p_with_mask"} <= set(rows[0])
        page.click("#clear")
        assert page.evaluate("window.maskwatchResults.length") == 0 and page.inner_text("#results") == ""
        # Opened as a file: a message, not "Loading the models..." for ever.
        local = b.new_page()
        index = tmp_path / "index.html"
        shutil.copy(Path(__file__).resolve().parents[1] / "src" / "maskwatch" / "web" / "index.html", index)
        shutil.copy(Path(__file__).resolve().parents[1] / "src" / "maskwatch" / "web" / "app.js", tmp_path / "app.js")
        local.goto(index.as_uri())
        time.sleep(1)
        text = local.inner_text("body")
        assert "Loading the models" not in text and "opened as a file" in text and "http.server" in text
    finally:
        b.close()
