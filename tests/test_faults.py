"""Faults injected for real (docs/reliability.md): a file-size limit under the video writer, a
full device under the events file, a file name that is not UTF-8, a crafted HDR header, odd
arrays. Each must be reported on one line, with every other result kept."""

import json
import os
import resource
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from maskwatch.cli import main
from maskwatch.clips import make_pan_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory, examples):
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    make_pan_clip([examples / "street_717.jpg"], path, frames_per_photo=40)
    return path


def _limit_file_size():
    # What a full disk does to a writer: writes past 64 KB fail (EFBIG), the process lives on.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


@pytest.mark.parametrize("ext", ["mp4", "avi"])
def test_a_full_disk_under_the_video_writer_is_an_error(clip, tmp_path, ext):
    out, summary = tmp_path / f"o.{ext}", tmp_path / "s.json"
    cmd = [
        sys.executable,
        "-m",
        "maskwatch.cli",
        "video",
        "--source",
        str(clip),
        "--out",
        str(out),
        "--summary",
        str(summary),
        "--threads",
        "2",
    ]
    rc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert rc.returncode == 1, rc.stderr  # not 0: the video is not whole
    s = json.loads(summary.read_text())
    assert s["stopped"].startswith("error: cannot write video") and "frames" in s["stopped"]
    assert s["frames"] == 40 and s["people"] >= 1  # the counts are all there
    assert "error: cannot write video" in rc.stderr and "Traceback" not in rc.stderr


def test_a_full_disk_under_events_keeps_the_video_and_summary(clip, tmp_path, capsys):
    out, summary = tmp_path / "o.mp4", tmp_path / "s.json"
    rc = main(["video", "--source", str(clip), "--out", str(out), "--events", "/dev/full", "--summary", str(summary), "--threads", "2"])
    assert rc == 0
    s = json.loads(summary.read_text())
    assert s["frames"] == 40 and s["outputs_failed"] and "events" in next(iter(s["outputs_failed"]))
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40  # the video on a healthy disk is whole
    err = capsys.readouterr().err
    assert err.count("events failed") == 1


def test_a_file_name_that_is_not_utf8(examples, tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    good = (examples / "crowd_495.jpg").read_bytes()
    (d / "a.jpg").write_bytes(good)
    odd = os.path.join(os.fsencode(d), b"\xff\xfe.jpg")
    with open(odd, "wb") as fh:
        fh.write(good)
    out = tmp_path / "r.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "maskwatch.cli",
        "image",
        str(d),
        "--out",
        str(tmp_path / "ann"),
        "--jsonl",
        str(out),
        "-q",
        "--threads",
        "2",
    ]
    for extra in (["--csv", str(tmp_path / "r.csv")], ["--resume"]):  # the second run finds both done
        rc = subprocess.run(cmd + extra, capture_output=True, timeout=300)
        assert rc.returncode == 0, rc.stderr.decode(errors="replace")
    rows = [json.loads(x) for x in out.read_text().splitlines()[1:]]
    assert len(rows) == 2 and all(r["faces"] for r in rows)
    assert sorted(os.listdir(os.fsencode(tmp_path / "ann"))) == [b"a.jpg", b"\xff\xfe.jpg"]
    assert b"\xff\xfe.jpg" in (tmp_path / "r.csv").read_bytes()  # the name as it is on disk


def test_a_crafted_hdr_is_refused_before_decoding(tmp_path, capsys):
    # A 10500 x 10500 Radiance file: a few bytes of header, 1.75 GB once decoded.
    big = tmp_path / "big.hdr"
    big.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 10500 +X 10500\n" + b"\x02\x02\x29\x04" * 2000)
    ok, small = cv2.imencode(".hdr", np.random.rand(40, 60, 3).astype(np.float32))
    (tmp_path / "small.hdr").write_bytes(small.tobytes())
    (tmp_path / "odd.bin.jpg").write_bytes(b"\x00\x01 not any image format" * 50)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rc = main(["image", str(big), str(tmp_path / "small.hdr"), str(tmp_path / "odd.bin.jpg"), "--no-save", "-q", "--threads", "2"])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert rc == 1
    err = capsys.readouterr().err
    assert "big.hdr is too large (10500x10500 pixels" in err and "odd.bin.jpg is not a readable image" in err
    assert "small.hdr" not in err  # a small HDR is measured from its header and read
    assert grown_mb < 300


@pytest.mark.parametrize(
    "array, faces",
    [
        (lambda img: img.astype(np.float32) / 255, True),  # floats in 0-1
        (lambda img: cv2.cvtColor(img, cv2.COLOR_BGR2BGRA), True),
        (lambda img: cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), True),
    ],
)
def test_arrays_of_other_kinds_are_converted(detector, examples, array, faces):
    img = cv2.imread(str(examples / "closeup_563.jpg"))
    assert (len(detector.detect(array(img))) > 0) == faces


def test_an_empty_array_is_one_clear_error(detector):
    with pytest.raises(ValueError, match=r"h, w > 0, got shape \(0, 0, 3\)"):
        detector.detect(np.zeros((0, 0, 3), np.uint8))


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_workers_die_with_a_killed_parent(examples, tmp_path):
    import shutil
    import time

    d = tmp_path / "photos"
    d.mkdir()
    for k in range(60):
        shutil.copy(examples / "crowd_495.jpg", d / f"{k:02d}.jpg")
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "maskwatch.cli", "image", str(d), "--workers", "2", "--no-save", "-q", "--jsonl", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 3):
        time.sleep(0.1)
    workers = _children(proc.pid)
    assert len(workers) >= 2, "the workers are running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    alive = [p for p in workers if os.path.exists(f"/proc/{p}")]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert alive == [], "no worker (or resource tracker) outlives its parent"


def test_more_workers_than_cores_are_capped(examples, tmp_path, capsys):
    rc = main(["image", str(examples / "closeup_563.jpg"), str(examples / "crowd_495.jpg"), "--workers", "64", "--no-save", "-q"])
    assert rc == 0
    assert f"--workers 64 is more than this machine's {os.cpu_count()} cores" in capsys.readouterr().err
