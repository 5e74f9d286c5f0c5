"""A site's live cameras on a two-node Ray cluster: the worker node dies, its camera resumes on
the other node within 30 s, the gap is counted and no event is written twice."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray")
from test_ray_cluster import cluster  # noqa: E402,F401 - the two-node cluster fixture


def test_cameras_resume_on_another_node_when_theirs_is_lost(cluster, walk_clip, tmp_path):  # noqa: F811
    import cv2
    from mjpeg_server import MjpegServer

    env, port, worker_raylet = cluster
    cap = cv2.VideoCapture(str(walk_clip))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    # Two live cameras, spread over the two nodes (one each): the worker node's is the one lost.
    streams = [MjpegServer(frames, fps=5, max_seconds=300).start() for _ in range(2)]
    site = tmp_path / "site.toml"
    events, summary = tmp_path / "events.jsonl", tmp_path / "summary.json"
    site.write_text(
        "".join(f'[[cameras]]\nname = "cam{k}"\nsource = "{s.url}"\ndetect_fps = 5\n\n' for k, s in enumerate(streams))
        + f'[outputs]\nevents = "{events}"\nsummary = "{summary}"\n'
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maskwatch.cli",
            "site",
            str(site),
            "--engine",
            "ray",
            "--address",
            f"127.0.0.1:{port}",
            "--threads",
            "1",
            "--camera-cpus",
            "0.5",
        ],  # each node (1 CPU) has room for the other's camera
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 90

        def cameras_with_events() -> set:
            return {json.loads(line)["camera"] for line in events.read_text().splitlines()} if events.exists() else set()

        while cameras_with_events() != {"cam0", "cam1"}:  # both analysing
            assert run.poll() is None, f"the site ended early: {run.stderr.read()[-2000:]}"
            if time.time() > deadline:
                run.kill()
                pytest.fail(f"no events from both cameras within 90 s: {run.stderr.read()[-3000:]}")
            time.sleep(0.5)
        before = {json.loads(line)["event_id"].split("-")[0] for line in events.read_text().splitlines()}
        os.kill(worker_raylet, signal.SIGKILL)
        killed_at = time.time()
        # The lost camera analyses again once an event of a new incarnation comes (the walks repeat).
        deadline = time.time() + 90
        while not {json.loads(line)["event_id"].split("-")[0] for line in events.read_text().splitlines()} - before:
            assert run.poll() is None and time.time() < deadline, "the lost camera did not come back within 90 s"
            time.sleep(0.5)
        back_after = time.time() - killed_at
        run.send_signal(signal.SIGTERM)
        rc = run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
        for s in streams:
            s.stop()
    err = run.stderr.read()
    assert rc == 0, err[-2000:]
    s = json.loads(summary.read_text())
    cams = s["cameras"]
    moved = [c for c in cams.values() if c["cluster"]["restarts"] >= 1]
    assert len(moved) == 1, {n: c["cluster"] for n, c in cams.items()}  # the lost node's camera, and only it
    m = moved[0]["cluster"]
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    print(f"\nlost node's camera: {m}; its first event after the loss {back_after:.1f} s after it; events {len(rows)}")
    assert 0 < m["gap_seconds"] < 30 and m["frames_analysed_per_incarnation"][-1] > 0, m
    assert len(m["nodes"]) == 2 and m["nodes"][0] != m["nodes"][1]  # resumed on the other node
    ids = [r["event_id"] for r in rows]
    assert len(ids) == len(set(ids))  # no event written twice
    assert sum(c["cluster"]["events_written"] for c in cams.values()) == len(rows)
    assert back_after < 60  # back, and analysing walks again
