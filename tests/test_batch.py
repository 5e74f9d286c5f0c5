import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.batch import JobSpec, duplicate_stems, output_name, run_local
from maskwatch.cli import main
from maskwatch.settings import PHOTO


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, examples):
    """40 real photos: the four crowd and street examples under several names, some re-encoded."""
    d = tmp_path_factory.mktemp("photos")
    for k in range(10):
        for p in sorted(examples.glob("*.jpg")):
            if p.stem.startswith("closeup"):
                continue
            img = cv2.imread(str(p))
            if k % 2:
                cv2.imwrite(str(d / f"{k:02d}_{p.stem}.png"), img)
            else:
                cv2.imwrite(str(d / f"{k:02d}_{p.stem}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 70 + 2 * k])
    return d


def lines(path):
    """The image records of a JSON Lines file, after checking its header line."""
    records = [json.loads(line) for line in open(path)]
    assert set(records[0]) == {"maskwatch"} and {"model", "settings"} <= set(records[0]["maskwatch"])
    return records[1:]


def test_jsonl_is_one_line_per_image(photo_dir, tmp_path):
    out = tmp_path / "r.jsonl"
    assert main(["image", str(photo_dir), "--no-save", "-q", "--jsonl", str(out), "--threads", "2"]) == 0
    rows = lines(out)
    assert len(rows) == 40 and len({r["file"] for r in rows}) == 40
    assert all(r["error"] is None and r["faces"] for r in rows)


def test_killed_run_resumes_with_every_file_exactly_once(photo_dir, tmp_path):
    out = tmp_path / "r.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "maskwatch.cli",
        "image",
        str(photo_dir),
        "--no-save",
        "-q",
        "--jsonl",
        str(out),
        "--threads",
        "1",
        "--upscale",
        "3",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 6):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no clean-up at all
    proc.wait()
    first = out.read_bytes().count(b"\n") - 1  # image lines, after the header line
    assert 5 <= first < 40, "the run was killed part-way"
    with open(out, "ab") as fh:  # as if killed in the middle of a line
        fh.write(b'{"file": "torn')
    rc = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert rc.returncode == 0, rc.stderr
    assert f"{first} file(s) already in" in rc.stderr
    rows = lines(out)
    files = [r["file"] for r in rows]
    assert len(files) == 40 and len(set(files)) == 40  # every file exactly once, no torn line
    # a finished run resumed again has nothing to do
    rc = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=60)
    assert rc.returncode == 0 and "0 to go" in rc.stderr and len(lines(out)) == 40


def test_resume_needs_jsonl(photo_dir, capsys):
    assert main(["image", str(photo_dir), "--resume"]) == 2
    assert "--resume needs --jsonl" in capsys.readouterr().err


def _faces(rows):
    return {r["file"]: [(f["label"], np.round(f["box"], 0).tolist()) for f in r["faces"]] for r in rows}


def test_two_workers_give_the_same_results(photo_dir, tmp_path):
    files = sorted(str(p) for p in photo_dir.iterdir())[:12]
    job = JobSpec(PHOTO.but(threads=2), str(tmp_path / "ann"), duplicate_stems(files))
    (tmp_path / "ann").mkdir()
    here = [r.to_dict() for r in run_local(files, job, workers=0)]
    two = [r.to_dict() for r in run_local(files, JobSpec(PHOTO, None), workers=2)]
    assert [r["file"] for r in two] == files  # input order kept
    assert _faces(here) == _faces(two)
    assert len(list((tmp_path / "ann").iterdir())) == 12


def test_output_names_stay_unique():
    files = ["a/x.jpg", "b/x.jpg", "c/y.png"]
    dups = duplicate_stems(files)
    names = [output_name(f, dups) for f in files]
    assert len(set(names)) == 3 and names[2] == "y.jpg" and names[0].startswith("x_")


def test_ray_local_cluster_matches_in_process(photo_dir, tmp_path):
    pytest.importorskip("ray")
    import ray

    files = sorted(str(p) for p in photo_dir.iterdir())[:10]
    out = tmp_path / "ray.jsonl"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rc = main(["image", *files, str(tmp_path / "missing.jpg"), "--engine", "ray", "--no-save", "-q", "--jsonl", str(out)])
    finally:
        ray.shutdown()
    assert rc == 1  # the missing file
    rows = lines(out)
    assert sorted(r["file"] for r in rows) == sorted(files + [str(tmp_path / "missing.jpg")])
    here = [r.to_dict() for r in run_local(files, JobSpec(PHOTO.but(threads=2), None))]
    assert _faces([r for r in rows if r["error"] is None]) == _faces(here)


def make_bad_files(d, good_jpg: bytes):
    """A corpus of >= 200 broken or odd files, each with the outcome it must have."""
    from PIL import Image

    rng = np.random.default_rng(0)
    expect = {}  # name -> "error" | (width, height)
    img = cv2.imdecode(np.frombuffer(good_jpg, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    png = cv2.imencode(".png", img)[1].tobytes()
    for i in range(40):
        (d / f"zero_{i}.jpg").write_bytes(b"")
        expect[f"zero_{i}.jpg"] = "error"
    for i in range(75):
        (d / f"random_{i}.{['jpg', 'png', 'gif', 'bmp', 'webp'][i % 5]}").write_bytes(rng.bytes(int(rng.integers(1, 5000))))
        expect[f"random_{i}.{['jpg', 'png', 'gif', 'bmp', 'webp'][i % 5]}"] = "error"
    for i in range(50):
        data = good_jpg if i % 2 else png
        cut = int(len(data) * (0.02 + 0.6 * i / 50))
        name = f"trunc_{i}.{'jpg' if i % 2 else 'png'}"
        (d / name).write_bytes(data[:cut])
        expect[name] = "error"
    for i in range(20):  # right content, wrong extension: readable
        name = f"wrongext_{i}.{['png', 'gif', 'bmp', 'jpeg'][i % 4]}"
        (d / name).write_bytes(good_jpg if i % 2 else png)
        expect[name] = (w, h)
    for i in range(10):  # text and HTML named as images
        (d / f"text_{i}.jpg").write_text("<html>not an image</html>" * (i + 1))
        expect[f"text_{i}.jpg"] = "error"
    # decompression bombs: tiny files that claim huge images
    for i, side in enumerate((20000, 40000, 65000)):
        buf = io.BytesIO()
        Image.new("1", (side, side)).save(buf, "PNG")
        (d / f"bomb_{i}.png").write_bytes(buf.getvalue())
        expect[f"bomb_{i}.png"] = "error"
    pil = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    pil.convert("CMYK").save(d / "cmyk.jpg")
    expect["cmyk.jpg"] = (w, h)
    cv2.imwrite(str(d / "sixteen_bit.png"), img.astype(np.uint16) * 257)
    expect["sixteen_bit.png"] = (w, h)
    pil.save(d / "animated.gif", save_all=True, append_images=[pil.rotate(5), pil.rotate(10)], duration=100)
    expect["animated.gif"] = (w, h)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees on display
    pil.save(d / "exif_rotated.jpg", exif=exif)
    expect["exif_rotated.jpg"] = (h, w)
    pil.convert("L").save(d / "grey.jpg")
    expect["grey.jpg"] = (w, h)
    pil.convert("RGBA").save(d / "rgba.png")
    expect["rgba.png"] = (w, h)
    Image.new("RGB", (1, 1)).save(d / "one_pixel.png")
    expect["one_pixel.png"] = (1, 1)
    (d / "folder.jpg").mkdir()  # a folder named like an image is not an input
    return expect


def test_fuzz_corpus_every_file_reported_none_crash(tmp_path, examples, capsys):
    d = tmp_path / "bad"
    d.mkdir()
    expect = make_bad_files(d, (examples / "street_717.jpg").read_bytes())
    assert len(expect) >= 200
    out = tmp_path / "r.jsonl"
    rc = main(["image", str(d), "--jsonl", str(out), "--out", str(tmp_path / "ann"), "-q", "--threads", "2", "--upscale", "1"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    rows = {os.path.basename(r["file"]): r for r in lines(out)}
    assert set(rows) == set(expect)
    for name, want in expect.items():
        r = rows[name]
        if want == "error":
            assert r["error"] and r["faces"] == [] and r["error"].count("\n") == 0, name
            assert f"{name}" in err
        else:
            assert r["error"] is None, (name, r["error"])
            assert (r["width"], r["height"]) == want, name
    assert "too large" in rows["bomb_2.png"]["error"]


def _die_on_poison(path):
    """Worker stand-in: a 'poison' file kills its process, as the OOM killer or a codec crash would."""
    import os

    from maskwatch import batch

    if "poison" in path:
        os._exit(9)
    return batch._work(path)


def test_a_dead_worker_is_noticed_and_its_files_retried(photo_dir, tmp_path):
    import time

    from maskwatch.batch import WORKER_DIED, _run_pool

    files = sorted(str(p) for p in photo_dir.iterdir())[:10]
    poison = str(tmp_path / "poison.jpg")
    (tmp_path / "poison.jpg").write_bytes(Path(files[0]).read_bytes())
    order = files[:5] + [poison] + files[5:]
    t0 = time.monotonic()
    got = list(_run_pool(order, JobSpec(PHOTO.but(threads=1), None), 2, work=_die_on_poison))
    assert time.monotonic() - t0 < 120, "no hang"
    assert [r.file for r in got] == order, "every file once, in order"
    assert [r.error for r in got if r.file == poison] == [WORKER_DIED]
    assert all(r.error is None for r in got if r.file != poison), "files that shared the dead pool were retried"
    here = [r.to_dict() for r in run_local(files, JobSpec(PHOTO.but(threads=2), None))]
    assert _faces([r.to_dict() for r in got if r.file != poison]) == _faces(here)
