import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from maskwatch.cli import main  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from schema import check_schema  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *extra):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maskwatch.cli", "serve", "--port", str(self.port), "--threads", "2", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/livez", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read()) from None
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def post_files(url, files, headers=None, timeout=60):
    """multipart/form-data POST of (name, bytes) pairs; returns (status, json).

    A server that refuses an oversized body answers before reading it and closes the socket:
    the answer is still read after the send breaks off, as a browser would.
    """
    import http.client
    from urllib.parse import urlparse

    boundary = "maskwatchtestboundary"
    body = b""
    for name, data in files:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        try:
            conn.request(
                "POST", "/api/detect", body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})}
            )
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def server():
    s = Server("--max-upload-mb", "5")
    yield s
    s.stop()


def test_health_and_docs(server):
    status, body = get(server.url + "/api/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = get(server.url + "/openapi.json")
    assert status == 200 and "/api/detect" in json.loads(body)["paths"]
    status, page = get(server.url + "/docs")
    assert status == 200
    # Offline: the docs page loads its script and style from this server, none from a CDN.
    assert "cdn" not in page.decode().lower() and "/docs/swagger-ui-bundle.js" in page.decode()
    assert get(server.url + "/docs/swagger-ui-bundle.js")[0] == 200 and get(server.url + "/docs/swagger-ui.css")[0] == 200
    assert get(server.url + "/docs/../app.py")[0] == 404


def test_detect_returns_the_cli_schema(server, examples):
    status, doc = post_files(
        server.url, [("street.jpg", (examples / "street_717.jpg").read_bytes()), ("crowd.jpg", (examples / "crowd_495.jpg").read_bytes())]
    )
    assert status == 200
    check_schema(doc)
    assert [i["file"] for i in doc["images"]] == ["street.jpg", "crowd.jpg"]
    assert len(doc["images"][1]["faces"]) >= 5


def _metrics(url) -> dict:
    """GET /metrics, parsed with prometheus_client's parser: {(name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = get(url + "/metrics")
    assert status == 200
    return {(x.name, tuple(sorted(x.labels.items()))): x.value for f in text_string_to_metric_families(body.decode()) for x in f.samples}


def test_metrics_count_the_photos_served(server, examples):
    pytest.importorskip("prometheus_client")
    before = _metrics(server.url)
    status, doc = post_files(server.url, [("street.jpg", (examples / "street_717.jpg").read_bytes()), ("bad.jpg", b"not an image")])
    assert status == 200
    after = _metrics(server.url)

    def grew(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("maskwatch_api_photos_total", result="ok") == 1 and grew("maskwatch_api_photos_total", result="error") == 1
    faces = doc["images"][0]["faces"]
    for label in ("with_mask", "without_mask", "mask_worn_incorrectly"):
        assert grew("maskwatch_api_faces_total", label=label) == sum(f["label"] == label for f in faces)
    assert grew("maskwatch_api_photo_duration_seconds_count") == 2


def _bad_uploads(examples):
    from PIL import Image

    good = (examples / "crowd_702.jpg").read_bytes()
    bomb = io.BytesIO()
    Image.new("1", (30000, 30000)).save(bomb, "PNG")
    return {
        "empty": ([("empty.jpg", b"")], 422, "empty"),
        "not an image": ([("notes.jpg", b"hello, not an image" * 50)], 422, "not a readable image"),
        "truncated jpeg": ([("cut.jpg", good[: len(good) // 3])], 422, "not a readable image"),
        "png bomb": ([("bomb.png", bomb.getvalue())], 413, "too large"),
        "huge upload": ([("big.jpg", os.urandom(6 * 1024 * 1024))], 413, "upload too large"),
    }


def test_bad_uploads_get_4xx_and_the_server_keeps_serving(server, examples):
    for what, (files, code, message) in _bad_uploads(examples).items():
        status, doc = post_files(server.url, files)
        assert status == code, what
        assert message in doc["error"], what
        assert "Traceback" not in json.dumps(doc)
        assert get(server.url + "/api/health")[0] == 200
    status, doc = post_files(server.url, [])
    assert status == 400 and "no file" in doc["error"]


def test_one_bad_file_among_good_ones_keeps_the_good_results(server, examples):
    status, doc = post_files(server.url, [("ok.jpg", (examples / "street_717.jpg").read_bytes()), ("bad.jpg", b"")])
    assert status == 200
    assert doc["images"][0]["faces"] and doc["images"][1]["error"]


def test_concurrent_requests_do_not_mix_results(server, examples):
    names = ["street_717.jpg", "crowd_495.jpg", "group_698.jpg", "crowd_702.jpg"]
    expected = {n: post_files(server.url, [(n, (examples / n).read_bytes())])[1]["images"][0] for n in names}
    errors, got = [], []

    def client(k):
        try:
            for i in range(4):
                n = names[(k + i) % 4]
                status, doc = post_files(server.url, [(n, (examples / n).read_bytes())])
                got.append((n, status, doc["images"][0]))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 32
    for n, status, img in got:
        assert status == 200 and img == expected[n]


def test_token_protects_page_and_api(examples):
    s = Server("--token", "s3cret")
    try:
        status, body = get(s.url + "/livez")  # liveness probes need no token, and learn nothing else
        assert status == 200 and json.loads(body) == {"status": "ok"}
        for path in ("/", "/api/health", "/docs", "/openapi.json", "/docs/swagger-ui.css"):
            assert get(s.url + path)[0] == 401, path
        status, doc = post_files(s.url, [("a.jpg", (examples / "street_717.jpg").read_bytes())])
        assert status == 401 and "token" in doc["error"]
        status, doc = post_files(s.url, [("a.jpg", (examples / "street_717.jpg").read_bytes())], {"Authorization": "Bearer s3cret"})
        assert status == 200
        assert get(s.url + "/?token=s3cret")[0] == 200
        status, page = get(s.url + "/docs?token=s3cret")  # the docs page works with the token it was opened with
        assert status == 200 and "/openapi.json?token=s3cret" in page.decode()
        assert get(s.url + "/openapi.json?token=s3cret")[0] == 200
    finally:
        s.stop()


def test_public_bind_needs_a_token(capsys, monkeypatch):
    monkeypatch.delenv("MASKWATCH_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "set --token or MASKWATCH_TOKEN" in capsys.readouterr().err


def test_live_view_streams_frames_and_counts(tmp_path, examples):
    from maskwatch.clips import make_pan_clip

    clip = tmp_path / "clip.avi"
    make_pan_clip([examples / "crowd_495.jpg"] * 3, clip, frames_per_photo=100)
    s = Server("--source", str(clip), "--upscale", "1")
    try:
        deadline = time.monotonic() + 60
        stats = {}
        while time.monotonic() < deadline:
            stats = json.loads(get(s.url + "/api/stream/stats")[1])
            if stats["frames"] > 20 and stats.get("people"):
                break
            time.sleep(0.3)
        assert stats["frames"] > 20 and stats["people"] >= 3
        with urllib.request.urlopen(s.url + "/api/stream.mjpg", timeout=30) as r:
            assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            chunk = r.read(50000)
        assert b"Content-Type: image/jpeg" in chunk and b"\xff\xd8" in chunk
        if importlib.util.find_spec("prometheus_client"):  # the live camera's figures on /metrics
            key = ("maskwatch_frames_analysed_total", (("camera", "live"),))
            deadline = time.monotonic() + 10
            m = _metrics(s.url)
            while m.get(key, 0) <= 20 and time.monotonic() < deadline:  # the state is published once a second
                time.sleep(0.3)
                m = _metrics(s.url)
            assert m[key] > 20
            # people whose track ended are in the counter, people still in view in the gauge
            people = sum(
                v
                for (name, labels), v in m.items()
                if name in ("maskwatch_people_total", "maskwatch_people_now")
                and dict(labels).get("camera") == "live"
                and "label" in dict(labels)
            )
            assert people >= 3
    finally:
        s.stop()


def test_live_view_uses_video_settings(tmp_path, examples):
    from maskwatch.clips import make_pan_clip
    from maskwatch.serve.app import create_app

    clip = tmp_path / "c.avi"
    make_pan_clip([examples / "street_717.jpg"], clip, frames_per_photo=5)
    from maskwatch.cli import build_parser
    from maskwatch.cli.serve import serve_config

    # What `maskwatch serve --source clip --conf 0.4` builds: the live view keeps video's defaults
    # (1x, no mirrored look) and takes the options given; --upscale given is honoured too.
    for argv, upscale in ((["--conf", "0.4"], 1.0), (["--conf", "0.4", "--upscale", "1.5"], 1.5)):
        args = build_parser().parse_args(["serve", "--source", str(clip), "--threads", "1", *argv])
        app = create_app(serve_config(args, token=None))
        live = app.state.live
        assert live.detector.settings.upscale == upscale and live.detector.classifier.flip is False
        assert live.detector.settings.conf == 0.4
        assert app.state.detector.settings.upscale == (2.25 if upscale == 1.0 else 1.5)  # the upload API's
        live.close()


def test_live_stream_ends_when_the_source_ends(tmp_path, examples):
    from maskwatch.clips import make_pan_clip

    clip = tmp_path / "short.avi"
    make_pan_clip([examples / "street_717.jpg"], clip, frames_per_photo=20)
    s = Server("--source", str(clip), "--upscale", "1")
    try:
        deadline = time.monotonic() + 60
        while json.loads(get(s.url + "/api/stream/stats")[1])["running"] and time.monotonic() < deadline:
            time.sleep(0.3)
        t0 = time.monotonic()
        with urllib.request.urlopen(s.url + "/api/stream.mjpg", timeout=30) as r:
            body = r.read()  # the whole response: it must end, not repeat the last frame
        assert time.monotonic() - t0 < 20 and body.count(b"--frame") <= 1
    finally:
        s.stop()


def test_page_in_a_real_browser(server, examples, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian chromium is not installed (setup.sh installs it where it can)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.set_input_files("#pick", [str(examples / "crowd_495.jpg"), str(examples / "street_717.jpg")])
            page.wait_for_function("document.querySelectorAll('canvas').length === 2", timeout=60000)
            faces = int(page.inner_text("#t-faces").split()[0])
            assert faces >= 8
            assert page.locator("table tr").count() == faces + 2  # two header rows
            assert "compliance" in page.inner_text("#t-rate")
            (tmp_path / "x.jpg").write_bytes(b"")
            page.set_input_files("#pick", [str(tmp_path / "x.jpg")])
            page.wait_for_selector(".msg.error", timeout=30000)
            assert "empty" in page.inner_text(".msg.error")
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            browser.close()


def test_bad_ports_are_usage_errors(capsys):
    from maskwatch.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--port", "99999"])
    assert exc.value.code == 2 and "between 0 and 65535" in capsys.readouterr().err
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        rc = main(["serve", "--port", str(busy.getsockname()[1])])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot listen on 127.0.0.1" in err and len(err.strip().splitlines()) == 1


def _partial_upload(port: int, declared: int, sent: int):
    """A real client on loopback that declares `declared` bytes, sends `sent`, and goes quiet."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        "POST /api/detect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {declared}\r\n\r\n"
    )
    part = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    sock.sendall(head.encode() + part + b"x" * (sent - len(part)))  # a well-formed start: the server waits for the rest
    return sock


def _status_of(sock, timeout: float) -> int | None:
    """The status of the answer on `sock`; what was read with it is kept in `_read[sock]`."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except OSError:
        return None
    _read[sock] = data  # the whole answer may come in this one read
    line = data.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/") else None


_read: dict = {}


def test_slow_and_stalled_uploads_do_not_hold_the_server(examples):
    s = Server("--body-timeout", "3", "--max-upload-mb", "2")  # in flight at most 4 x 2 MB
    try:
        t0 = time.monotonic()
        stalled = _partial_upload(s.port, 1_000_000, 1_000)
        assert _status_of(stalled, 20) == 408 and time.monotonic() - t0 < 10, "a stalled body is answered and dropped"
        stalled.settimeout(10)
        rest = _read.pop(stalled)
        while chunk := stalled.recv(4096):  # the rest of the answer, then the end of the connection
            rest += chunk
        assert b"did not arrive in time" in rest, "and its connection closed"
        stalled.close()
        # Four uploads of nearly 2 MB each, half sent: the fifth is refused at once, not buffered.
        held = [_partial_upload(s.port, 2 * 1024 * 1024 - 100, 1024 * 1024) for _ in range(4)]
        time.sleep(0.5)
        fifth = _partial_upload(s.port, 2 * 1024 * 1024 - 100, 1000)
        assert _status_of(fifth, 5) == 503
        fifth.close()
        assert all(_status_of(h, 20) == 408 for h in held)  # then each runs out of time
        for h in held:
            h.close()
        status, doc = post_files(s.url, [("a.jpg", (examples / "street_717.jpg").read_bytes())])
        assert status == 200 and doc["images"][0]["faces"], "the server is whole afterwards"
    finally:
        s.stop()


def test_live_view_counts_door_lines_and_zones_as_video_does(walk_clip, tmp_path):
    from maskwatch.cli import main

    line, zone = "door=0.5,0,0.5,1", "left=0,0,0.5,0,0.5,1,0,1"
    summary = tmp_path / "s.json"
    assert main(["video", "--source", str(walk_clip), "--line", line, "--zone", zone, "--summary", str(summary), "--threads", "2"]) == 0
    want = json.loads(summary.read_text())
    s = Server("--source", str(walk_clip), "--line", line, "--zone", zone)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            stats = json.loads(get(s.url + "/api/stream/stats")[1])
            if not stats["running"] and "lines" in stats:
                break
            time.sleep(0.5)
    finally:
        s.stop()
    assert stats["lines"]["door"]["in"] == want["lines"]["door"]["in"] and stats["lines"]["door"]["out"] == want["lines"]["door"]["out"]
    assert stats["lines"]["door"]["in_total"] + stats["lines"]["door"]["out_total"] >= 2  # the clip's walkers cross it
    assert stats["zones"]["left"]["entered"] == want["zones"]["left"]["entered"]


def test_the_docs_page_never_reflects_the_query_and_a_foreign_host_is_refused(server):
    """#45: /docs?token=<script> put the payload into the page; a loopback server answered any
    Host (open to DNS rebinding)."""
    import http.client

    payload = '"></script><script>alert(1)</script>'
    status, body = get(server.url + "/docs?token=" + urllib.parse.quote(payload))
    assert status == 200 and b"<script>alert(1)" not in body and payload.encode() not in body
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/health", headers={"Host": "attacker.example"})
    assert conn.getresponse().status == 421
    conn.close()
    assert get(server.url + "/api/health")[0] == 200  # its own name still answers
    status, _ = get(f"http://localhost:{server.port}/api/health")
    assert status == 200


def test_a_blank_or_spaced_token_is_refused(capsys):
    for token in (" ", "a b", ""):
        assert main(["serve", "--token", token, "--port", "1"]) == 2
        assert "--token" in capsys.readouterr().err
