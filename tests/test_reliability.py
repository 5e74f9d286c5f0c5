"""A site left running: each test injects the real fault (a real Mosquitto under load, TCP servers
that accept and never answer, an MJPEG camera that stalls) and checks nothing hangs or is lost."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from mjpeg_server import MjpegServer
from silent_server import SilentServer

pytest.importorskip("trackers")

LABELS = ("with_mask", "without_mask", "mask_worn_incorrectly")


def test_mqtt_events_from_many_threads_never_deadlock_with_paho(broker):
    """Four writers publishing as fast as they can while the broker acknowledges: paho's thread
    runs its callbacks inside its own mutex, which froze the old sink within seconds."""
    from mqtt_broker import Listener

    from maskwatch.sinks.mqtt import MqttSink, MqttTarget

    listener = Listener(broker.port, ("maskwatch/+/events",))
    sink = MqttSink(MqttTarget.from_options(broker.url, discovery_prefix=None), LABELS)
    sink.open()
    deadline = time.monotonic() + 10
    while not sink.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink.connected
    n, k = 1500, 4

    def writer(w):
        for i in range(n):
            sink.write({"camera": f"cam{w}", "event": "appear", "event_id": f"{w}-{i}"})
            if i % 100 == 0:
                sink.update({"cameras": {f"cam{w}": {"people": i}}})

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "an MQTT writer is stuck: a deadlock with paho's thread"
    closing = threading.Thread(target=sink.close, daemon=True)
    closing.start()
    closing.join(15)
    assert not closing.is_alive(), "closing the MQTT output hung"
    stats = sink.stats()
    assert stats["events_sent"] == n * k and stats["events_unsent"] == 0, stats
    listener.settle(0.5)
    ids = {__import__("json").loads(p)["event_id"] for _, p in listener.messages}
    listener.close()
    assert len(ids) == n * k


def test_hung_cameras_hold_up_neither_a_healthy_one_nor_the_stop(tmp_path):
    """Ten cameras at an address that accepts and never answers, beside one good MJPEG camera:
    the good one analyses frames as if alone, and a stop ends the site within seconds."""
    from maskwatch.pipeline import Detector
    from maskwatch.video.site import CameraSpec, SiteSpec, run_site

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (240, 320, 3), np.uint8) for _ in range(5)]
    good = MjpegServer(frames, fps=20, max_seconds=60).start()
    silent = SilentServer()
    try:
        cams = [CameraSpec(f"hung{i}", silent.url, detect_fps=5) for i in range(10)]
        cams.append(CameraSpec("good", good.url, detect_fps=5))
        stop = threading.Event()
        timer = threading.Timer(12, stop.set)
        timer.start()
        t0 = time.monotonic()
        summary = run_site(Detector(threads=2), SiteSpec(tuple(cams)), stop=stop, log=lambda m: None)
        stopped_after = time.monotonic() - t0 - 12
    finally:
        good.stop()
        silent.close()
    h = summary["cameras"]["good"]["health"]
    # At 5 fps over about 10 s once open: the healthy camera was never waiting behind the others.
    assert h["frames_analysed"] >= 25, h
    assert stopped_after < 5, f"the site took {stopped_after:.1f} s to stop"
    assert all(summary["cameras"][f"hung{i}"]["health"]["frames_analysed"] == 0 for i in range(10))
    assert all(summary["cameras"][f"hung{i}"]["health"]["state"] in ("down", "starting", "stopped") for i in range(10))


class _Track:
    """What PeopleCounter reads of a tracker's track."""

    def __init__(self, tid, status, final=None):
        self.id, self.status, self.final, self.counted = tid, status, final or status, True
        self.ema = np.array([0.3, 0.4, 0.3])
        self.box = np.array([10.0, 10.0, 50.0, 50.0])
        self.first_frame = self.last_frame = 0
        self.first_time = self.last_time = 0.0


def test_counters_only_grow_when_a_live_label_changes():
    """A person seen bare, then masked, then gone: every counter figure (Prometheus counters, Home
    Assistant total_increasing) never goes down; the provisional label shows in the gauges."""
    from maskwatch.sinks.figures import camera_figures
    from maskwatch.video.counting import PeopleCounter

    people = PeopleCounter(LABELS)

    def state():
        return {"final": people.final_counts(), "now": people.now_counts(), "people_now": len(people.people())}

    states = []
    t = _Track(1, "without_mask")
    people.observe([t], 0, 0.0)
    states.append(state())
    t.status = "with_mask"
    people.observe([t], 1, 0.2)
    states.append(state())
    t.final = "with_mask"
    people.end([t])
    states.append(state())
    series = [{f.key: f.value for f in camera_figures(s, LABELS) if f.kind == "counter"} for s in states]
    for before, after in zip(series, series[1:]):
        for key, value in before.items():
            assert after[key] >= value, (key, value, after[key])
    assert series[-1][("with_mask",)] == 1 and series[-1][("without_mask",)] == 0
    gauges = [{f.key: f.value for f in camera_figures(s, LABELS) if f.kind == "gauge"} for s in states]
    assert gauges[0][("now", "without_mask")] == 1 and gauges[1][("now", "with_mask")] == 1 and gauges[2][("now", "with_mask")] == 0


def test_a_live_camera_keeps_a_site_running_after_its_files_end_and_metrics_stay_up(tmp_path):
    """stop = "auto": a site with a live camera outlives its files; the metrics endpoint still
    answers after the site has ended (its last seconds are scraped too)."""
    import urllib.request

    from mqtt_broker import free_port

    from maskwatch.clips import make_walk_clip
    from maskwatch.pipeline import Detector
    from maskwatch.video.site import CameraSpec, SiteSpec, run_site

    clip = tmp_path / "short.avi"
    make_walk_clip([np.full((40, 40, 3), 128, np.uint8)], [(0, 0.1, 0.9, 0.5, 0, 9)], clip, frames=10)
    rng = np.random.default_rng(1)
    live = MjpegServer([rng.integers(0, 255, (120, 160, 3), np.uint8)], fps=10, max_seconds=60).start()
    port = free_port()
    try:
        stop = threading.Event()
        timer = threading.Timer(8, stop.set)
        timer.start()
        t0 = time.monotonic()
        site = SiteSpec((CameraSpec("file", str(clip)), CameraSpec("live", live.url)), metrics_port=port)
        summary = run_site(Detector(threads=2), site, stop=stop, log=lambda m: None)
        ran = time.monotonic() - t0
    finally:
        live.stop()
    assert ran >= 7.5, f"the site ended after {ran:.1f} s, with its file, taking the live camera down"
    assert summary["cameras"]["live"]["health"]["frames_analysed"] > 0
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'maskwatch_frames_analysed_total{camera="file"}' in text
    assert "# HELP maskwatch_people_total People counted, by final label" in text


def test_viewers_of_a_stalled_camera_never_hang_the_server():
    """45 viewers on /api/stream.mjpg while the camera goes silent: /livez and the stats still
    answer at once, and the view comes back when the camera does (reopened, the second
    connection is healthy)."""
    import json
    import urllib.request

    pytest.importorskip("uvicorn")
    from test_serve import Server

    rng = np.random.default_rng(2)
    cam = MjpegServer([rng.integers(0, 255, (120, 160, 3), np.uint8) for _ in range(3)], fps=15, max_seconds=120, stall_after=30).start()
    s = Server("--source", cam.url)
    viewers = []
    try:
        for _ in range(45):
            v = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            v.sendall(b"GET /api/stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            viewers.append(v)  # never read: a slow viewer as well as a waiting one
        time.sleep(4)  # the camera has stalled after 2 s: every viewer waits for a frame
        slowest = 0.0
        for _ in range(5):
            t0 = time.monotonic()
            assert urllib.request.urlopen(s.url + "/livez", timeout=5).status == 200
            stats = json.loads(urllib.request.urlopen(s.url + "/api/stream/stats", timeout=5).read())
            slowest = max(slowest, time.monotonic() - t0)
            time.sleep(0.5)
        assert slowest < 1.0, f"/livez and the stats took {slowest:.1f} s behind 45 viewers of a stalled camera"
        before = stats["frames"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stats = json.loads(urllib.request.urlopen(s.url + "/api/stream/stats", timeout=5).read())
            if stats["frames"] > before + 10:
                break
            time.sleep(0.5)
        assert stats["frames"] > before + 10, f"the view did not come back after the stall: {stats}"
    finally:
        for v in viewers:
            v.close()
        s.stop()
        cam.stop()


def test_discovery_of_a_camera_removed_from_the_site_is_deleted(broker):
    """A camera announced by an earlier run and gone from the file: its retained Home Assistant
    configs are cleared; another program's (another prefix) are left alone."""
    import json

    import paho.mqtt.client as mqtt
    from mqtt_broker import Listener

    from maskwatch.sinks.mqtt import MqttSink, MqttTarget

    old = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    old.connect("127.0.0.1", broker.port)
    old.loop_start()
    mine = "homeassistant/sensor/maskwatch_old/people/config"
    theirs = "homeassistant/sensor/maskwatch_other/people/config"
    old.publish(mine, json.dumps({"state_topic": "maskwatch/old/people"}), qos=1, retain=True).wait_for_publish(5)
    old.publish(theirs, json.dumps({"state_topic": "elsewhere/other/people"}), qos=1, retain=True).wait_for_publish(5)
    old.disconnect()
    old.loop_stop()
    sink = MqttSink(MqttTarget.from_options(broker.url), LABELS)
    sink.open()
    state = {"cameras": {"new": {"final": {"people": 0}, "health": {"state": "running"}}}}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sink.update(state)
        time.sleep(0.2)
        if sink.connected and sink.state_messages > 20:
            break
    time.sleep(1)
    sink.update(state)
    sink.close()
    late = Listener(broker.port, ("homeassistant/#",)).settle()
    late.close()
    assert mine not in late.retained and theirs in late.retained
    assert any(t.startswith("homeassistant/sensor/maskwatch_new/") for t in late.retained)


def test_photos_are_never_overwritten_and_one_writer_per_jsonl(examples, tmp_path, capsys):
    """--out on the photos' own folder is refused before anything is written; a second writer
    of one JSONL is refused while the first holds it; nothing the user had changes."""
    import fcntl
    import os
    import shutil

    from maskwatch.cli import main

    ow = tmp_path / "ow"
    ow.mkdir()
    shutil.copy(examples / "street_717.jpg", ow / "party.jpg")
    shutil.copy(examples / "street_717.jpg", ow / "party.png")
    before = {p.name: p.read_bytes() for p in ow.iterdir()}
    assert main(["image", str(ow), "--out", str(ow), "-q"]) == 2
    assert main(["image", str(ow / "party.png"), "--out", str(ow), "-q"]) == 2
    assert main(["image", str(ow), "--out", str(ow / "annotated"), "-q"]) == 2  # a second run would annotate them
    assert main(["image", str(ow / "party.jpg"), "--json", str(ow / "party.jpg"), "--no-save"]) == 2
    assert "it would be destroyed" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in ow.iterdir()} == before
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"maskwatch": {}}\n')
    fd = os.open(jsonl, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another run writing it
    try:
        assert main(["image", str(ow / "party.jpg"), "--jsonl", str(jsonl), "--no-save", "-q"]) == 2
        assert "another maskwatch run is writing this file" in capsys.readouterr().err
    finally:
        os.close(fd)
    assert jsonl.read_text() == '{"maskwatch": {}}\n'


def test_resume_refuses_a_damaged_line_and_other_settings_and_retries_what_may_change(examples, tmp_path, capsys):
    import json
    import shutil

    from maskwatch.cli import main

    d = tmp_path / "in"
    d.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(examples / "street_717.jpg", d / f"{name}.jpg")
    out = tmp_path / "r.jsonl"
    assert main(["image", str(d), "--jsonl", str(out), "--no-save", "-q"]) == 0
    lines = out.read_text().splitlines()
    # b failed for a reason that can change; a's line is then damaged in the middle
    rec = json.loads(lines[2])
    lines[2] = json.dumps({**rec, "faces": [], "width": None, "height": None, "error": "internal error: X", "retry": True})
    out.write_text("\n".join(lines) + "\n")
    assert main(["image", str(d), "--jsonl", str(out), "--no-save", "-q", "--resume"]) == 0
    assert "1 to go" in capsys.readouterr().err
    good = out.read_text()
    assert main(["image", str(d), "--jsonl", str(out), "--no-save", "-q", "--resume", "--conf", "0.6"]) == 2
    assert "models or settings differ" in capsys.readouterr().err
    damaged = good.splitlines()
    damaged[1] = damaged[1][:20]
    out.write_text("\n".join(damaged) + "\n")
    assert main(["image", str(d), "--jsonl", str(out), "--no-save", "-q", "--resume"]) == 2
    assert "line 2 is damaged" in capsys.readouterr().err
    assert out.read_text() == "\n".join(damaged) + "\n"  # nothing dropped


def test_models_of_the_wrong_kind_are_one_line_when_they_load(examples, tmp_path, capsys):
    """#45: a valid ONNX of another shape as --classifier wrote 'internal error' for every photo;
    a truncated, random or text --detector was an internal error with a traceback (exit 3)."""
    from maskwatch.classify import DEFAULT_CLASSIFIER
    from maskwatch.cli import main

    torch = pytest.importorskip("torch")
    wrong = tmp_path / "wrong.onnx"
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(112 * 112 * 3, 5))
    torch.onnx.export(model, torch.zeros(1, 112, 112, 3), str(wrong), input_names=["x"], dynamo=False)
    photo = str(examples / "street_717.jpg")
    assert main(["image", photo, "--classifier", str(wrong), "--no-save", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "gives outputs of shape (1, 5)" in err and len(err.splitlines()) == 1
    text = tmp_path / "text.onnx"
    text.write_text("not a model\n")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(Path(DEFAULT_CLASSIFIER.file).read_bytes()[:5000])
    for bad in (text, cut, Path(DEFAULT_CLASSIFIER.file)):
        assert main(["image", photo, "--detector", str(bad), "--no-save", "-q"]) == 2, bad
        err = capsys.readouterr().err.strip()
        assert "detector model" in err and len(err.splitlines()) == 1, err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("option", ["--csv", "--json", "--jsonl"])
def test_a_full_disk_names_the_output(examples, option, capsys):
    """#45: a full disk stopped the run with '[Errno 28] No space left on device', no file named."""
    from maskwatch.cli import main

    assert main(["image", str(examples / "street_717.jpg"), "--no-save", "-q", option, "/dev/full"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/dev/full" in err[0] and "No space left" in err[0]


def test_special_and_huge_files_are_refused_before_they_are_read(tmp_path, capsys):
    """#45 item 7: /dev/zero grew past 17 GB in 60 s; a FIFO waited for a writer; a 3 GB file was
    read whole to be refused."""
    import resource

    from maskwatch.cli import main

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as fh:  # sparse: 3 GB on paper, nothing on disk
        fh.truncate(3 * 2**30)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    files = [str(f) for f in (fifo, huge)] + (["/dev/zero"] if os.path.exists("/dev/zero") else [])
    assert main(["image", *files, "--no-save", "-q"]) == 1
    assert time.monotonic() - t0 < 30
    err = capsys.readouterr().err
    assert "pipe.jpg is not a regular file" in err and "huge.jpg is too large" in err
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) < 200_000  # KB: nothing read whole


def test_the_site_tunes_glibcs_allocator_unless_told_not_to(monkeypatch):
    import platform

    from maskwatch.video.memory import trimmer, tune_allocator

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    monkeypatch.delenv("MASKWATCH_MALLOC", raising=False)
    assert tune_allocator() is glibc
    tick = trimmer(every_s=0.0)
    assert (tick is not None) is glibc
    if tick:
        tick()  # malloc_trim runs (and returns) in this process
    monkeypatch.setenv("MASKWATCH_MALLOC", "mmap")
    assert tune_allocator() is glibc and trimmer() is None
    monkeypatch.setenv("MASKWATCH_MALLOC", "default")
    assert tune_allocator() is False and trimmer() is None
