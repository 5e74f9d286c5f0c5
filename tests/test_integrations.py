"""MQTT (a real Mosquitto broker, a real subscriber), Home Assistant discovery and Prometheus
metrics, against the truth of a generated clip with known crossings."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request

import pytest
from mqtt_broker import Listener, free_port

from maskwatch.cli import main

pytest.importorskip("trackers")
pytest.importorskip("paho.mqtt")

LINE, ZONE = "door=0.5,0,0.5,1", "right=0.5,0,1,0,1,1,0.5,1"
LABELS = ("with_mask", "without_mask", "mask_worn_incorrectly")
ID = r"[A-Za-z0-9_-]+"
# Home Assistant's documented MQTT sensor discovery: topic shape, allowed values
STATE_CLASSES = {"measurement", "total", "total_increasing"}
DURATION_UNITS = {"s", "min", "h", "d", "ms"}


def check_discovery(topic: str, payload: dict) -> None:
    """One config message against Home Assistant's documented discovery format."""
    assert re.fullmatch(rf"homeassistant/sensor/{ID}/{ID}/config", topic), topic
    assert isinstance(payload["name"], str) and payload["name"]
    assert re.fullmatch(ID, payload["unique_id"])
    assert isinstance(payload["state_topic"], str) and not set("+#") & set(payload["state_topic"])
    dev = payload["device"]
    assert isinstance(dev["identifiers"], list) and dev["identifiers"] and all(isinstance(i, str) for i in dev["identifiers"])
    assert isinstance(dev["name"], str) and dev["name"]
    if "state_class" in payload:
        assert payload["state_class"] in STATE_CLASSES
    if payload.get("device_class") == "duration":
        assert payload["unit_of_measurement"] in DURATION_UNITS
    if "unit_of_measurement" in payload:
        assert isinstance(payload["unit_of_measurement"], str) and "state_class" in payload
    assert payload.get("entity_category") in (None, "config", "diagnostic")
    assert payload["availability"][0] == {"topic": "maskwatch/availability"} and payload["availability_mode"] == "all"
    assert isinstance(payload["expire_after"], int) and payload["expire_after"] > 0
    if payload.get("device_class") == "enum":
        assert payload["options"] and "state_class" not in payload


def run_video(argv) -> int:
    return main(["video", "--threads", "2", *argv])


def scraping(port: int, run):
    """Scrape /metrics on `port` every 0.2 s while `run()` runs (the server lives as long as the
    run); returns run()'s result and the newest scrape (None if none succeeded)."""
    seen, done = {}, threading.Event()

    def scrape():
        while not done.is_set():
            try:
                seen["text"] = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                pass
            time.sleep(0.2)

    t = threading.Thread(target=scrape)
    t.start()
    try:
        return run(), seen.get("text")
    finally:
        done.set()
        t.join()


def test_mqtt_state_discovery_and_events_match_the_summary(walk_clip, broker, tmp_path):
    live = Listener(broker.port, ("maskwatch/#",))
    s, e = tmp_path / "s.json", tmp_path / "e.jsonl"
    rc = run_video(
        [
            "--source",
            str(walk_clip),
            "--line",
            LINE,
            "--zone",
            ZONE,
            "--name",
            "front door",
            "--mqtt",
            broker.url,
            "--summary",
            str(s),
            "--events",
            str(e),
        ]
    )
    assert rc == 0
    summary = json.loads(s.read_text())
    events = [json.loads(x) for x in e.read_text().splitlines()]
    assert summary["camera"] == "front door" and summary["mqtt"]["events_unsent"] == 0 and summary["mqtt"]["connections"] == 1
    # Every event arrived, in order, on the camera's events topic (topic-safe name).
    heard = [json.loads(p) for t, p in live.settle().messages if t == "maskwatch/front_door/events"]
    live.close()
    assert heard == events and len(events) > 6

    # A Home Assistant started after the run: the retained messages are all it needs.
    late = Listener(broker.port, ("homeassistant/#", "maskwatch/#")).settle()
    late.close()
    configs = {t: json.loads(p) for t, p in late.retained.items() if t.startswith("homeassistant/")}
    announced = {p["state_topic"] for p in configs.values()}
    base = "maskwatch/front_door"
    want = [f"{base}/lines/door/{d}/{label}" for d in ("in", "out") for label in LABELS]
    want += [f"{base}/zones/right/{k}/{label}" for k in ("now", "entered") for label in LABELS]
    want += [f"{base}/{k}" for k in (*LABELS, "people", "people_now", "compliance", "health/fps", "health/frames_dropped")]
    assert set(want) <= announced, set(want) - announced
    assert len(configs) >= 39
    for topic, payload in configs.items():
        check_discovery(topic, payload)
    assert len({p["unique_id"] for p in configs.values()}) == len(configs)
    assert {p["device"]["identifiers"][0] for p in configs.values()} == {"maskwatch_front_door"}
    state = late.retained
    assert state["maskwatch/availability"] == "offline"  # the run has ended
    for p in configs.values():  # every announced sensor has its state, a number where HA expects one
        value = state[p["state_topic"]]
        if "state_class" in p:
            float(value)
    # The state topics hold the summary's figures: per class entries through the line, the zone.
    door, right = summary["lines"]["door"], summary["zones"]["right"]
    assert door["in"]["with_mask"] == 2 and door["out"]["without_mask"] == 1  # the clip's truth
    for direction in ("in", "out"):
        for label in LABELS:
            assert int(state[f"{base}/lines/door/{direction}/{label}"]) == door[direction][label]
        assert int(state[f"{base}/lines/door/{direction}_predicted"]) == door["predicted"][direction]
    for label in LABELS:
        assert int(state[f"{base}/{label}"]) == summary[label]
        assert int(state[f"{base}/zones/right/entered/{label}"]) == right["entered"][label]
    assert int(state[f"{base}/people"]) == summary["people"] == 3
    assert float(state[f"{base}/compliance"]) == round(100 * summary["compliance_rate"], 1)
    assert int(state[f"{base}/health/frames_analysed"]) == summary["frames"]
    assert state[f"{base}/health/state"] == "ended"


def test_a_broker_down_for_10_s_loses_no_frame_and_the_counts_recover(walk_clip, broker, tmp_path):
    import cv2
    from mjpeg_server import MjpegServer

    cap = cv2.VideoCapture(str(walk_clip))
    frames = []
    while len(frames) < 200:  # walks 1 and 2 and an empty second, played in a loop
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    # A live camera at 12 fps for 22 s: the broker goes at 3 s and comes back at 13 s.
    server = MjpegServer(frames, fps=12, max_seconds=40).start()
    s, e = tmp_path / "s.json", tmp_path / "e.jsonl"

    def outage():
        time.sleep(3)
        broker.stop()
        time.sleep(10)
        broker.start()

    t = threading.Thread(target=outage)
    t.start()
    try:
        rc = run_video(
            ["--source", server.url, "--max-frames", "264", "--line", LINE, "--mqtt", broker.url, "--summary", str(s), "--events", str(e)]
        )
    finally:
        t.join()
        server.stop()
    assert rc == 0
    summary = json.loads(s.read_text())
    events = e.read_text().splitlines()
    m = summary["mqtt"]
    assert summary["frames"] == 264 and summary["frames_dropped"] == 0  # the video never waited for the broker
    assert m["disconnects"] == 1 and m["connections"] == 2
    assert m["events_sent"] == len(events) and m["events_unsent"] == 0  # held while it was away, sent after
    # The broker kept nothing (no persistence): what a subscriber sees now was all published again.
    late = Listener(broker.port, ("maskwatch/#",)).settle()
    late.close()
    door = summary["lines"]["door"]
    assert door["in"]["with_mask"] == 2 and door["out"]["without_mask"] == 1  # walks 1, 2, 1 of the clip
    for direction in ("in", "out"):
        for label in LABELS:
            assert int(late.retained[f"maskwatch/127_0_0_1/lines/door/{direction}/{label}"]) == door[direction][label]


def test_prometheus_metrics_hold_every_figure_of_the_summary(walk_clip, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from maskwatch.sinks.figures import camera_figures

    port = free_port()
    s = tmp_path / "s.json"
    rc, text = scraping(
        port,
        lambda: run_video(["--source", str(walk_clip), "--line", LINE, "--zone", ZONE, "--metrics-port", str(port), "--summary", str(s)]),
    )
    assert rc == 0 and text is not None
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(x.name, tuple(sorted(x.labels.items()))) for f in families.values() for x in f.samples}
    summary = json.loads(s.read_text())
    state = {
        **summary,
        "health": {
            "frames_read": 0,
            "frames_analysed": 0,
            "frames_dropped": 0,
            "corrupt_frames": 0,
            "reconnects": 0,
            "fps": 0,
            "state": "x",
        },
    }
    figures = [f for f in camera_figures(state, LABELS) if not f.derived]
    assert len(figures) > 30
    for f in figures:
        if f.kind == "text":
            continue
        name = f"maskwatch_{f.metric}"
        labels = tuple(sorted({"camera": "walk", **f.labels}.items()))
        if f.value is None:
            continue
        assert (name, labels) in samples, (name, labels)
    # Conventions: counters are _total, base units, stage latency as histograms.
    assert families["maskwatch_people"].type == "counter"
    hist = families["maskwatch_stage_duration_seconds"]
    assert hist.type == "histogram"
    stages = {x.labels["stage"] for x in hist.samples if x.name.endswith("_count")}
    assert {"detect", "classify", "track"} <= stages
    assert all(not n.endswith("_ms") and "millisecond" not in n for n in families)


def test_bad_mqtt_and_metrics_options_are_one_line(walk_clip, capsys, tmp_path):
    for argv, message in [
        (["--mqtt", "http://broker"], "mqtt://host"),
        (["--mqtt", "mqtt://u:secret@broker"], "not in the URL"),
        (["--mqtt", "mqtt://broker", "--mqtt-prefix", "a/#"], "without +, #"),
        (["--mqtt-ca", str(tmp_path / "nope.pem")], "needs --mqtt"),
        (["--metrics-port", "70000"], "between 0 and 65535"),
    ]:
        try:
            rc = run_video(["--source", str(walk_clip), *argv])
        except SystemExit as exc:  # argparse's own check of the option's type
            rc = exc.code
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert rc == 2 and message in lines[-1] and "Traceback" not in err, (argv, err)
        assert len(lines) == 1 or lines[0].startswith("usage:")  # argparse's own errors come with the usage


def test_an_unreachable_broker_never_stops_the_video(walk_clip, tmp_path):
    s, e = tmp_path / "s.json", tmp_path / "e.jsonl"
    argv = [
        "--source",
        str(walk_clip),
        "--max-frames",
        "60",
        "--mqtt",
        f"mqtt://127.0.0.1:{free_port()}",
        "--summary",
        str(s),
        "--events",
        str(e),
    ]
    assert run_video(argv) == 0
    summary, events = json.loads(s.read_text()), e.read_text().splitlines()
    m = summary["mqtt"]
    assert summary["frames"] == 60 and events  # the video and its other outputs went on
    assert m["connections"] == 0 and m["connected"] is False
    assert m["events_sent"] == 0 and m["events_unsent"] == len(events)  # counted, not silently lost


def test_a_site_publishes_each_camera_as_a_device(walk_clip, broker, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    port = free_port()
    site = tmp_path / "site.toml"
    site.write_text(
        f'[outputs]\nmqtt = "{broker.url}"\nmqtt_prefix = "shop"\nmetrics_port = {port}\nsummary = "{tmp_path / "site.json"}"\n'
        f'events = "{tmp_path / "ev.jsonl"}"\n'
        + "".join(
            f'[[cameras]]\nname = "{n}"\nsource = "{walk_clip}"\ndetect_fps = 12.5\nlines = {{ door = [0.5, 0.0, 0.5, 1.0] }}\n'
            for n in ("door a", "door-b")
        )
    )
    live = Listener(broker.port, ("shop/+/events",))
    rc, scraped = scraping(port, lambda: main(["site", str(site), "--threads", "2"]))
    assert rc == 0
    summary = json.loads((tmp_path / "site.json").read_text())
    events = [json.loads(x) for x in (tmp_path / "ev.jsonl").read_text().splitlines()]
    heard = [json.loads(p) for _, p in live.settle().messages]
    live.close()
    assert sorted(map(json.dumps, heard)) == sorted(map(json.dumps, events))  # every camera's events, each on its own topic
    assert summary["outputs"]["mqtt"]["events_unsent"] == 0
    late = Listener(broker.port, ("homeassistant/#", "shop/#")).settle()
    late.close()
    devices = {json.loads(p)["device"]["identifiers"][0] for t, p in late.retained.items() if t.startswith("homeassistant/")}
    assert devices == {"maskwatch_door_a", "maskwatch_door-b", "maskwatch_site"}  # each camera, and the site's totals
    assert int(late.retained["shop/site/with_mask"]) == summary["totals"]["final"]["with_mask"] == 4
    assert late.retained["shop/door_a/availability"] == "offline"  # the camera has ended
    for name, topic in (("door a", "door_a"), ("door-b", "door-b")):
        door = summary["cameras"][name]["lines"]["door"]
        assert door["in"]["with_mask"] == 2 and door["out"]["without_mask"] == 1  # the clip's truth
        for direction in ("in", "out"):
            for label in LABELS:
                assert int(late.retained[f"shop/{topic}/lines/door/{direction}/{label}"]) == door[direction][label]
    samples = {(x.name, tuple(sorted(x.labels.items()))): x.value for f in text_string_to_metric_families(scraped) for x in f.samples}
    assert {c for (n, labels), _ in samples.items() if n == "maskwatch_frames_analysed_total" for k, c in labels if k == "camera"} == {
        "door a",
        "door-b",
    }
    assert samples[("maskwatch_site_cameras", (("state", "running"),))] >= 0
