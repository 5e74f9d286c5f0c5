import json
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from maskwatch.cli import main
from maskwatch.clips import make_pan_clip, pan_frames
from maskwatch.settings import VideoSettings
from maskwatch.video.run import VideoConfig, run_video

sys.path.insert(0, os.path.dirname(__file__))
from mjpeg_server import MjpegServer  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory, examples):
    """4 s of real crowd photos, panned and zoomed, 640x480 at 30 fps."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    n = make_pan_clip([examples / "crowd_495.jpg", examples / "street_717.jpg"], path, frames_per_photo=60)
    assert n == 120
    return path


def read_events(path):
    return [json.loads(line) for line in open(path)]


def frame_count(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n


def test_video_file_through_cli(clip, tmp_path, capsys):
    out, ev, summ = tmp_path / "out.mp4", tmp_path / "ev.jsonl", tmp_path / "s.json"
    rc = main(["video", "--source", str(clip), "--out", str(out), "--events", str(ev), "--summary", str(summ), "--threads", "2"])
    assert rc == 0
    s = json.loads(summ.read_text())
    assert s["stopped"] == "end of stream" and s["frames"] == 120 and s["frames_dropped"] == 0
    assert frame_count(out) == 120
    events = read_events(ev)
    appear = {e["track"]: e for e in events if e["event"] == "appear"}
    end = {e["track"]: e for e in events if e["event"] == "end"}
    assert set(appear) == set(end), "every person who appeared has ended by the end of the file"
    assert s["people"] == len(appear)
    # crowd_495 shows 8 annotated faces (4 masked, 3 bare, 1 incorrect), street_717 four.
    assert 5 <= s["people"] <= 16
    # Masked and unmasked people both show up. (Not "2 bare": the pan crops some of crowd_495's
    # bare faces out, and the rest of that count came from tracks whose label was a near tie.)
    assert s["with_mask"] >= 2 and s["without_mask"] + s["mask_worn_incorrectly"] >= 2
    assert s["with_mask"] + s["without_mask"] + s["mask_worn_incorrectly"] == s["people"]
    assert s["compliance_rate"] == pytest.approx(s["with_mask"] / s["people"], abs=1e-3)
    assert sum(m["people"] for m in s["per_minute"]) == s["people"]  # all within minute 0
    for e in events:
        assert 0 <= e["frame"] < 120 and e["time"] == pytest.approx(e["frame"] / 30, abs=0.05)
    for tid, e in end.items():
        assert e["label"] in ("with_mask", "without_mask", "mask_worn_incorrectly")
        assert e["frame"] >= appear[tid]["frame"]
    assert set(s["timing_ms_per_frame"]) == {"decode", "detect", "classify", "track", "draw", "encode"}
    # the summary says how labels were weighted: by default the shipped classifier's mix divided out
    assert s["settings"]["class_prior"] == "balanced" and len(s["settings"]["class_weights"]) == 3
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["frames"] == 120


def test_detect_every_n_carries_boxes(clip, tmp_path, detector):
    s = run_video(
        detector, VideoConfig(source=str(clip), out=str(tmp_path / "o.avi"), video=VideoSettings(detect_every=3)), log=lambda m: None
    )
    assert s["frames"] == 120 and 3 <= s["people"] <= 16
    assert frame_count(tmp_path / "o.avi") == 120


def _frame(path, frame_no):
    cap = cv2.VideoCapture(str(path))
    for _ in range(frame_no + 1):
        ok, img = cap.read()
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(float)


def test_blur_hides_faces_but_keeps_counts(clip, tmp_path, detector):
    plain = run_video(
        detector,
        VideoConfig(source=str(clip), out=str(tmp_path / "a.avi"), events=str(tmp_path / "a.jsonl"), max_frames=30),
        log=lambda m: None,
    )
    blurred = run_video(detector, VideoConfig(source=str(clip), out=str(tmp_path / "b.avi"), blur=True, max_frames=30), log=lambda m: None)
    assert plain["people"] == blurred["people"] > 0
    # On the very first frame (no track confirmed yet) every detected face is already hidden.
    a, b = _frame(tmp_path / "a.avi", 0), _frame(tmp_path / "b.avi", 0)
    faces = detector.find_faces(cv2.VideoCapture(str(clip)).read()[1])
    assert len(faces) >= 3
    for x1, y1, x2, y2 in faces.xyxy:
        cx1, cy1, cx2, cy2 = (int(v) for v in (x1 + 0.25 * (x2 - x1), y1 + 0.3 * (y2 - y1), x2 - 0.25 * (x2 - x1), y2 - 0.25 * (y2 - y1)))
        region_a, region_b = a[cy1:cy2, cx1:cx2], b[cy1:cy2, cx1:cx2]
        assert np.abs(region_a - region_b).mean() > 4  # the face is no longer there
    assert np.abs(a[-40:, :80] - b[-40:, :80]).mean() < 2  # the bottom-left corner (no face) is untouched


def test_blur_faces_pixelates_to_6x6_blocks(examples):
    from maskwatch.annotate import blur_faces

    img = cv2.imread(str(examples / "street_717.jpg"))
    out = blur_faces(img.copy(), [(100, 50, 160, 120)], grow=0)
    patch = out[50:120, 100:160]
    assert len(np.unique(patch.reshape(-1, 3), axis=0)) <= 36
    assert np.array_equal(out[:40], img[:40])  # nothing outside the face changes


def test_truncated_videos(clip, tmp_path, capsys):
    avi = tmp_path / "t.avi"
    cap = cv2.VideoCapture(str(clip))
    vw = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    while True:
        ok, f = cap.read()
        if not ok:
            break
        vw.write(f)
    vw.release()
    data = avi.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    rc = main(["video", "--source", str(cut), "--summary", str(tmp_path / "s.json")])
    s = json.loads((tmp_path / "s.json").read_text())
    assert rc == 0 and 30 <= s["frames"] < 120  # what is there is processed
    # An MP4 cut in half has lost its index: it cannot be opened, and says so in one line.
    mp4 = tmp_path / "cut.mp4"
    mp4.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    capsys.readouterr()
    assert main(["video", "--source", str(mp4)]) == 2
    err = capsys.readouterr().err
    assert "maskwatch: error: cannot open video source" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "source, message",
    [
        ("http://127.0.0.1:9/nothing.mjpg", "cannot open video source"),
        ("no/such/video.mp4", "no such video file"),
    ],
)
def test_bad_sources_exit_2(source, message, capsys):
    assert main(["video", "--source", source, "--stall-timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_options(clip, capsys):
    assert main(["video", "--source", str(clip), "--out", "x.mkv"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["video", "--source", str(clip), "--detect-every", "0"])
    assert exc.value.code == 2 and "--detect-every" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["video", "--source", str(clip), "--class-prior", "uniform"])
    assert exc.value.code == 2 and "--class-prior" in capsys.readouterr().err


def test_folder_of_frames_skips_corrupt_ones(tmp_path, examples, detector):
    img = cv2.imread(str(examples / "street_717.jpg"))
    for i, f in enumerate(pan_frames(img, 12)):
        cv2.imwrite(str(tmp_path / f"f{i:03d}.jpg"), f)
    (tmp_path / "f005.jpg").write_bytes(b"garbage")
    s = run_video(detector, VideoConfig(source=str(tmp_path), fps=10), log=lambda m: None)
    assert s["frames"] == 11 and s["corrupt_frames"] == 1 and s["people"] >= 2


@pytest.fixture
def frames(examples):
    return list(pan_frames(cv2.imread(str(examples / "crowd_495.jpg")), 30))


def test_stream_killed_and_restarted_reconnects(frames, detector, tmp_path):
    server = MjpegServer(frames).start()
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    restarted = []

    def outage():
        time.sleep(1.5)
        server.stop()
        time.sleep(1.5)
        restarted.append(MjpegServer(frames, port=port).start())

    threading.Thread(target=outage, daemon=True).start()
    try:
        s = run_video(
            detector,
            VideoConfig(
                source=server.url,
                max_frames=150,
                video=VideoSettings(stall_timeout=2, reconnect_timeout=20),
                events=str(tmp_path / "e.jsonl"),
                summary=str(tmp_path / "s.json"),
            ),
            log=lambda m: None,
        )
    finally:
        for srv in restarted:
            srv.stop()
    assert s["reconnects"] >= 1
    assert s["frames"] == 150 and s["stopped"] == "max frames reached"
    assert s["people"] >= 3
    assert json.loads((tmp_path / "s.json").read_text())["reconnects"] == s["reconnects"]


def test_stalled_stream_is_detected_and_reopened(frames, detector):
    server = MjpegServer(frames, stall_after=20).start()
    try:
        t0 = time.monotonic()
        s = run_video(
            detector,
            VideoConfig(source=server.url, max_frames=60, video=VideoSettings(stall_timeout=1.5, reconnect_timeout=10)),
            log=lambda m: None,
        )
    finally:
        server.stop()
    assert s["reconnects"] >= 1 and s["frames"] == 60
    assert time.monotonic() - t0 < 30


def test_lost_stream_ends_with_error_and_keeps_results(frames, tmp_path, capsys):
    server = MjpegServer(frames).start()
    threading.Timer(1.5, server.stop).start()
    rc = main(
        [
            "video",
            "--source",
            server.url,
            "--stall-timeout",
            "1",
            "--reconnect-timeout",
            "2",
            "--events",
            str(tmp_path / "e.jsonl"),
            "--summary",
            str(tmp_path / "s.json"),
        ]
    )
    assert rc == 1
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["stopped"].startswith("error:") and s["frames"] > 10
    ends = [e for e in read_events(tmp_path / "e.jsonl") if e["event"] == "end"]
    assert len(ends) == s["people"] > 0
    assert "no reconnection within 2 s" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_and_writes_everything(tmp_path, examples, sig):
    long_clip = tmp_path / "long.avi"
    make_pan_clip([examples / "crowd_702.jpg"] * 4, long_clip, frames_per_photo=300)  # 1,200 frames: long enough on any machine
    out, summ = tmp_path / "o.mp4", tmp_path / "s.json"
    # A test run started in the background (`cmd &`) inherits SIGINT ignored; a user's terminal does not.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maskwatch.cli",
            "video",
            "--source",
            str(long_clip),
            "--out",
            str(out),
            "--summary",
            str(summ),
            "--events",
            str(tmp_path / "e.jsonl"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and out.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    s = json.loads(summ.read_text())
    assert s["stopped"] == "interrupted" and 0 < s["frames"] < 1200
    assert frame_count(out) == s["frames"]  # the video file is complete and playable


class _Hook:
    """A local HTTP endpoint that records POSTed JSON bodies, answering `status`."""

    def __init__(self, status=200):
        import http.server

        bodies, hook = [], self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                bodies.append((self.headers["Content-Type"], json.loads(body)))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.status, self.bodies = status, bodies
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_webhook_gets_every_event_in_order(clip, tmp_path, detector):
    hook = _Hook()
    try:
        s = run_video(
            detector,
            VideoConfig(source=str(clip), events=str(tmp_path / "e.jsonl"), webhook=hook.url, video=VideoSettings(detect_every=3)),
            log=lambda m: None,
        )
    finally:
        hook.server.shutdown()
    written = read_events(tmp_path / "e.jsonl")
    assert len(written) >= 6 and s["events"] == len(written)
    assert [b for _, b in hook.bodies] == written
    assert {t for t, _ in hook.bodies} == {"application/json"}
    assert s["webhook"] == {"url": hook.url, "sent": len(written), "failed": 0, "dropped": 0}


def test_failing_webhook_is_one_line_and_counted(clip, tmp_path, detector, capsys):
    hook = _Hook(status=500)
    try:
        rc = main(
            [
                "video",
                "--source",
                str(clip),
                "--webhook",
                hook.url,
                "--summary",
                str(tmp_path / "s.json"),
                "--max-frames",
                "30",
                "--threads",
                "2",
            ]
        )
    finally:
        hook.server.shutdown()
    assert rc == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["events"] > 0 and s["webhook"]["failed"] == s["events"] and s["webhook"]["sent"] == 0
    err = capsys.readouterr().err
    assert err.count("webhook") == 1 and "HTTP 500" in err
    assert main(["video", "--source", str(clip), "--webhook", "ftp://x/y"]) == 2
    assert "--webhook needs an http:// or https:// URL" in capsys.readouterr().err


def test_webhook_queue_drops_oldest_when_endpoint_is_slow():
    from maskwatch.sinks.webhook import WebhookSink

    hook = _Hook()
    slow_handler = hook.server.RequestHandlerClass
    original = slow_handler.do_POST

    def slow_post(self):
        time.sleep(0.3)
        original(self)

    slow_handler.do_POST = slow_post
    try:
        poster = WebhookSink(hook.url, log=lambda m: None, queue_size=2)
        poster.open()
        poster.post([{"n": i} for i in range(10)])  # returns at once: the loop is never held up
        stats = poster.close()
    finally:
        hook.server.shutdown()
    assert stats["sent"] + stats["dropped"] == 10 and stats["failed"] == 0
    assert stats["dropped"] >= 6
    assert hook.bodies[-1][1] == {"n": 9}  # the newest events survive
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookSink("mailto:x@y")


@pytest.mark.parametrize("upscale", [1.0, 2.25])  # video's default, and photos'
def test_webcam_close_up_is_one_person(tmp_path, examples, upscale):
    # A face filling ~70 % of a 640x480 frame (as in front of a webcam): one box a frame, one person.
    import maskwatch
    from maskwatch.settings import FACE_THRESHOLD as VIDEO_FACE_THRESHOLD

    detector = maskwatch.Detector(upscale=upscale, threads=2, conf=VIDEO_FACE_THRESHOLD)
    path = tmp_path / "close.avi"
    make_pan_clip([examples / "closeup_563.jpg"], path, frames_per_photo=45)
    cap = cv2.VideoCapture(str(path))
    for _ in range(3):
        frame = cap.read()[1]
        found = detector.find_faces(frame)
        assert len(found) == 1 and found.xyxy[0, 3] - found.xyxy[0, 1] > 0.5 * frame.shape[0]
    s = run_video(detector, VideoConfig(source=str(path)), log=lambda m: None)
    assert s["frames"] == 45 and s["people"] == 1


def test_webhook_survives_an_endpoint_that_is_not_http():
    import socket

    from maskwatch.sinks.webhook import WebhookSink

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def garbage():  # reads the request, answers a line that is not an HTTP status line
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=garbage, daemon=True).start()
    lines = []
    hook = WebhookSink(f"http://127.0.0.1:{srv.getsockname()[1]}/h", log=lines.append, timeout=2)
    hook.open()
    hook.post([{"event": "appear", "n": k} for k in range(3)])
    counts = hook.close(wait=10)
    stop.set()
    srv.close()
    assert counts["failed"] == 3 and counts["sent"] == 0, "every event is tried and counted; the sender lives on"
    assert len(lines) == 1 and "webhook" in lines[0]


def test_video_writer_failure_is_an_error_not_a_hang(tmp_path):
    from maskwatch.video.writer import VideoWriter as _Writer

    w = _Writer(str(tmp_path / "o.avi"), 25, (64, 48))

    class FullDisk:
        def write(self, image):
            raise OSError("No space left on device")

        def release(self):
            pass

    w._vw = FullDisk()
    frame = np.zeros((48, 64, 3), np.uint8)
    done = threading.Event()

    def feed():
        try:
            for _ in range(100):  # far more than the queue holds
                w.write(frame)
        except ValueError as exc:
            feed.error = str(exc)
        done.set()

    threading.Thread(target=feed, daemon=True).start()
    assert done.wait(10), "the writer thread died and the loop blocked on its full queue"
    assert "No space left on device" in feed.error
    w.close()


def test_video_without_the_video_extra_is_one_line(monkeypatch, capsys, examples):
    import sys

    monkeypatch.setitem(sys.modules, "trackers", None)  # as if `maskwatch[video]` were not installed
    assert main(["video", "--source", str(examples / "street_717.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'maskwatch[video]'" in err
