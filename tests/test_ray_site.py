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
    frames = frames[0:60] + frames[100:160] + frames[200:260]  # the walks only: a face always in view
    # Four live cameras, spread over the two nodes: the worker node's are the ones lost.
    streams = [MjpegServer(frames, fps=5, max_seconds=300).start() for _ in range(4)]
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
            "0.25",
        ],  # each node (1 CPU) has room for the other's cameras
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 90

        def cameras_with_events() -> set:
            return {json.loads(line)["camera"] for line in events.read_text().splitlines()} if events.exists() else set()

        while cameras_with_events() != {f"cam{k}" for k in range(4)}:  # all analysing
            assert run.poll() is None, f"the site ended early: {run.stderr.read()[-2000:]}"
            if time.time() > deadline:
                run.kill()
                pytest.fail(f"no events from every camera within 90 s: {run.stderr.read()[-3000:]}")
            time.sleep(0.5)
        before = {json.loads(line)["event_id"].split("-")[0] for line in events.read_text().splitlines()}
        os.kill(worker_raylet, signal.SIGKILL)
        killed_at = time.time()
        # A lost camera analyses again once an event of a new incarnation comes (the walks repeat);
        # SPREAD puts two of the four on each node.
        deadline = time.time() + 90
        while len({json.loads(line)["event_id"].split("-")[0] for line in events.read_text().splitlines()} - before) < 2:
            assert run.poll() is None, run.stderr.read()[-2000:]
            if time.time() > deadline:
                break  # the summary below says which camera did not come back
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
    moved = {n: c["cluster"] for n, c in cams.items() if c["cluster"]["restarts"] >= 1}
    print(f"\ncameras of the lost node: {moved}; the first two back with events {back_after:.1f} s after the loss")
    assert 1 <= len(moved) <= 3, {n: c["cluster"] for n, c in cams.items()}  # the lost node's cameras, and only they
    for m in moved.values():  # each back within 30 s, on the other node, analysing again
        assert 0 < m["gap_seconds"] < 30 and m["frames_analysed_per_incarnation"][-1] > 0, m
        assert len(m["nodes"]) == 2 and m["nodes"][0] != m["nodes"][1]
    stayed = {n: c for n, c in cams.items() if n not in moved}
    assert all(c["cluster"]["restarts"] == 0 and c["health"]["frames_analysed"] > 0 for c in stayed.values())
    lost_node = {m["nodes"][0] for m in moved.values()}
    assert len(lost_node) == 1 and not lost_node & {
        c["cluster"]["nodes"][0] for c in stayed.values()
    }  # one node lost, only its cameras moved
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    ids = [r["event_id"] for r in rows]
    assert len(ids) == len(set(ids))  # no event written twice
    assert sum(c["cluster"]["events_written"] for c in cams.values()) == len(rows)
