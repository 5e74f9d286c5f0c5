"""A two-node Ray cluster on this machine loses its worker node mid-run: every file still comes
back exactly once (the set-up of docs/scaling-out.md, with `ray start` as a user runs it)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
RAY = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
N_FILES = 160  # enough for the node to die with work left, few enough for CI's 15 minutes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes(marker: str) -> dict[int, str]:
    """pid -> command name of every process started with `marker` in its environment (from /proc:
    Ray renames its processes, but they all inherit the environment of `ray start`)."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                environ = (d / "environ").read_bytes().split(b"\0")
                comm = (d / "comm").read_text().strip()
            except OSError:
                continue
            if marker.encode() in environ:
                out[int(d.name)] = comm
    return out


def _orphan_ray_workers() -> set[int]:
    """Ray processes ("ray::...") whose parent is gone (adopted by init)."""
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            if comm.startswith("ray::") and rest[1] == "1":
                out.add(int(d.name))
    return out


@pytest.fixture
def cluster(tmp_path):
    if not Path(RAY).exists() or not Path("/proc").is_dir():
        pytest.skip("needs the `ray` command and /proc")
    # Ray 2.60 refuses unauthenticated clusters: a token in this test's own HOME, as on a real one.
    temp = tempfile.mkdtemp(prefix="mwray", dir="/tmp")
    marker = f"MASKWATCH_RAY_TEST={temp}"
    env = {**os.environ, "HOME": str(tmp_path / "home"), "RAY_AUTH_MODE": "token", "MASKWATCH_RAY_TEST": temp}
    subprocess.run([RAY, "get-auth-token", "--generate"], env=env, check=True, capture_output=True, timeout=60)
    # A short temp dir of its own (Ray's socket paths must stay under 108 bytes). Every process of
    # the cluster carries `marker` in its environment: that is how the test finds and ends them
    # (`ray stop` would stop every Ray on the machine).
    port = _free_port()

    def start(*args):
        subprocess.run([RAY, "start", "--num-cpus", "1", *args], env=env, check=True, capture_output=True, timeout=120)

    def raylets():
        return {pid for pid, name in _processes(marker).items() if name == "raylet"}

    groups = set()
    orphans_before = _orphan_ray_workers()

    def note_groups():
        # Ray's agents rewrite their environment, but stay in the process group of the node
        # process that started them: the groups are noted while those are alive, and ended last.
        for pid in _processes(marker):
            try:
                groups.add(os.getpgid(pid))
            except ProcessLookupError:
                pass

    try:
        start("--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", temp)
        head = raylets()
        start("--address", f"127.0.0.1:{port}")
        worker = raylets() - head
        assert len(head) == 1 and len(worker) == 1, (head, worker)
        note_groups()
        yield env, port, worker.pop()
    finally:
        note_groups()
        marked = _processes(marker)
        for group in groups - {os.getpgid(0)}:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in marked:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Agents of the killed node lose their parent and may sit in a group that ended first.
        time.sleep(1)
        for pid in _orphan_ray_workers() - orphans_before:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(temp, ignore_errors=True)


def test_every_file_once_when_a_worker_node_dies(cluster, tmp_path, examples):
    env, port, worker_raylet = cluster
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(N_FILES):
        shutil.copy(examples / ("street_717.jpg" if i % 2 else "group_698.jpg"), photos / f"p{i:03d}.jpg")
    out = tmp_path / "r.jsonl"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maskwatch.cli",
            "image",
            "photos",
            "--engine",
            "ray",
            "--address",
            f"127.0.0.1:{port}",
            "--jsonl",
            str(out),
            "--no-save",
            "-q",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 180
        while not (out.exists() and out.read_text().strip()):
            assert run.poll() is None, f"the run ended before the node was killed: {run.stderr.read()[-2000:]}"
            assert time.time() < deadline, "no results within 180 s"
            time.sleep(0.2)
        os.kill(worker_raylet, signal.SIGKILL)
        done_at_kill = len(out.read_text().splitlines())
        rc = run.wait(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    files = [json.loads(line)["file"] for line in out.read_text().splitlines()[1:]]  # after the header line
    assert rc == 0, run.stderr.read()[-2000:]
    assert done_at_kill < N_FILES  # the node died while work was left
    assert sorted(files) == sorted(f"photos/p{i:03d}.jpg" for i in range(N_FILES))  # each file exactly once
    assert all(json.loads(line)["error"] is None for line in out.read_text().splitlines()[1:])
