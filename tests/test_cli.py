import json
import os
import subprocess
import sys

import numpy as np
import pytest

from maskwatch.cli import main

sys.path.insert(0, os.path.dirname(__file__))
from schema import check_schema  # noqa: E402


def test_image_folder_writes_json_csv_and_annotated_images(examples, tmp_path, capsys):
    rc = main(
        [
            "image",
            str(examples),
            "--out",
            str(tmp_path / "out"),
            "--json",
            str(tmp_path / "r.json"),
            "--csv",
            str(tmp_path / "r.csv"),
            "--threads",
            "2",
        ]
    )
    assert rc == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    check_schema(doc)
    assert len(doc["images"]) == 5 and all(i["error"] is None for i in doc["images"])
    assert sum(len(i["faces"]) for i in doc["images"]) >= 25
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.stem + ".jpg" for p in examples.glob("*.jpg"))
    rows = (tmp_path / "r.csv").read_text().strip().splitlines()
    assert rows[0].startswith("file,face,x1") and len(rows) - 1 == sum(len(i["faces"]) for i in doc["images"])
    captured = capsys.readouterr()
    assert "face 1:" in captured.out and "crowd_702.jpg" in captured.out
    faces = [f for i in doc["images"] for f in i["faces"]]
    n_with = sum(f["label"] == "with_mask" for f in faces)
    assert f"{len(faces)} faces: {n_with} with_mask, " in captured.err
    assert f"; {n_with / len(faces):.0%} with a mask worn right" in captured.err


def test_bad_files_are_reported_and_skipped(examples, tmp_path, capsys):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("this is text, not an image")
    good = (examples / "street_717.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (tmp_path / "good.jpg").write_bytes(good)
    rc = main(
        [
            "image",
            str(tmp_path / "empty.jpg"),
            str(tmp_path / "notes.jpg"),
            str(tmp_path / "good.jpg"),
            str(tmp_path / "truncated.jpg"),
            str(tmp_path / "missing.png"),
            "--no-save",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    assert rc == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    check_schema(doc)
    by_file = {img["file"].rsplit("/", 1)[-1]: img for img in doc["images"]}
    assert by_file["good.jpg"]["error"] is None and by_file["good.jpg"]["faces"]
    for name in ("empty.jpg", "notes.jpg", "truncated.jpg", "missing.png"):
        assert by_file[name]["error"] and by_file[name]["faces"] == []
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("maskwatch: error:") == 4
    assert "4/5 image(s)" not in err and "1/5 image(s) processed" in err


def test_glob_and_no_match(examples, tmp_path, capsys):
    assert main(["image", str(examples / "street_*.jpg"), "--no-save", "-q"]) == 0
    assert main(["image", str(tmp_path / "nothing_*.jpg"), "--no-save"]) == 1
    assert main(["image", str(tmp_path), "--no-save"]) == 2  # empty folder
    assert "no images found" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["image"], ["image", "x.jpg", "--conf", "2"], ["image", "x.jpg", "--upscale", "-1"], ["frobnicate"]])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_model_exits_2_with_one_line(examples, tmp_path, capsys):
    assert main(["image", str(examples / "street_717.jpg"), "--model", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "classifier model not found" in err[0]


def test_subprocess_json_to_stdout(examples):
    out = subprocess.run(
        [sys.executable, "-m", "maskwatch.cli", "image", str(examples / "group_698.jpg"), "--json", "-", "--no-save"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # stdout is pure JSON; the summary went to stderr
    check_schema(doc)
    assert doc["images"][0]["faces"]
    assert "face 1:" in out.stderr


def test_subprocess_help():
    for cmd in (["--help"], ["image", "--help"], ["train", "--help"], ["evaluate", "--help"]):
        out = subprocess.run([sys.executable, "-m", "maskwatch.cli", *cmd], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "usage: maskwatch" in out.stdout


def test_mistyped_option_gets_suggestions(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["image", "x.jpg", "--upscle", "3"])
    assert exc.value.code == 2
    assert "similar options are --upscale" in capsys.readouterr().err


def test_the_face_threshold_follows_the_classifier(detector):
    from maskwatch.settings import NON_FACE_AWARE_THRESHOLD

    assert detector.classifier.rejects_non_faces  # the shipped classifier knows non-faces
    assert detector.settings.conf == NON_FACE_AWARE_THRESHOLD


@pytest.fixture
def http_examples(examples):
    """The example photos served over http on a free local port."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(examples))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_image_urls(http_examples, examples, tmp_path, capsys):
    good = f"{http_examples}/street_717.jpg?size=full"
    rc = main(
        [
            "image",
            good,
            f"{http_examples}/nothing_here.jpg",
            f"{http_examples}/annotations.json",
            "--out",
            str(tmp_path / "out"),
            "--json",
            str(tmp_path / "r.json"),
            "--threads",
            "2",
        ]
    )
    assert rc == 1  # two URLs failed; the good one's results are still written
    doc = json.loads((tmp_path / "r.json").read_text())
    check_schema(doc)
    by_file = {img["file"]: img for img in doc["images"]}
    assert by_file[good]["error"] is None and len(by_file[good]["faces"]) >= 4
    assert "HTTP 404" in by_file[f"{http_examples}/nothing_here.jpg"]["error"]
    assert "not a readable image" in by_file[f"{http_examples}/annotations.json"]["error"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["street_717.jpg"]
    err = capsys.readouterr().err
    assert "Traceback" not in err and "HTTP 404" in err
    # The same photo read from disk gives the same faces.
    local = main(["image", str(examples / "street_717.jpg"), "--no-save", "--json", str(tmp_path / "l.json"), "--threads", "2"])
    assert local == 0
    assert json.loads((tmp_path / "l.json").read_text())["images"][0]["faces"] == by_file[good]["faces"]


def test_ray_engine_refuses_http_urls_up_front(capsys):
    assert main(["image", "http://127.0.0.1:9/x.jpg", "--engine", "ray", "--no-save"]) == 2
    assert "--engine ray reads local paths and s3://" in capsys.readouterr().err


def test_unreachable_url_is_one_line():
    from maskwatch.imageio import read_image

    with pytest.raises(ValueError, match=r"^cannot fetch http://127\.0\.0\.1:9/x\.jpg: "):
        read_image("http://127.0.0.1:9/x.jpg")  # port 9 (discard): nothing listens


def test_image_blur_hides_faces_but_keeps_results(examples, tmp_path, capsys):
    import cv2

    photo = str(examples / "street_717.jpg")
    for name, extra in (("plain", []), ("blurred", ["--blur"])):
        assert (
            main(["image", photo, "--out", str(tmp_path / name), "--json", str(tmp_path / f"{name}.json"), "-q", "--threads", "2"] + extra)
            == 0
        )
    plain, blurred = (json.loads((tmp_path / f"{n}.json").read_text())["images"][0]["faces"] for n in ("plain", "blurred"))
    assert plain == blurred and len(plain) >= 4
    from maskwatch.annotate import blur_faces

    a, b = (cv2.imread(str(tmp_path / n / "street_717.jpg")).astype(np.int16) for n in ("plain", "blurred"))
    expected = blur_faces(cv2.imread(photo), [f["box"] for f in plain]).astype(np.int16)
    for face in plain:
        x1, y1, x2, y2 = (int(round(v)) for v in face["box"])
        # The middle of each face (labels are drawn at its edges) is the pixelated photo, up to
        # JPEG error, and far from the clear one.
        mid = (slice(y1 + (y2 - y1) // 4, y2 - (y2 - y1) // 4), slice(x1 + (x2 - x1) // 4, x2 - (x2 - x1) // 4))
        to_pixelated, clear_to_pixelated = np.abs(b[mid] - expected[mid]).mean(), np.abs(a[mid] - expected[mid]).mean()
        assert to_pixelated < 0.5 * clear_to_pixelated, (to_pixelated, clear_to_pixelated)
    far = (slice(0, 20), slice(0, 20))  # a corner with no face is untouched
    assert np.array_equal(a[far], b[far])
    assert main(["image", photo, "--blur", "--no-save"]) == 2
    assert "--blur pixelates the annotated images" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["image", "x.jpg", "--max-side", "0"],
        ["image", "x.jpg", "--max-side", "big"],
        ["image", "x.jpg", "--threads", "0"],
        ["image", "x.jpg", "--workers", "-1"],
        ["video", "--source", "0", "--max-frames", "0"],
        ["serve", "--port", "-1"],
        ["serve", "--max-pixels", "0"],
        ["train", "--data", "d", "--epochs", "0"],
        ["train", "--data", "d", "--input-size", "8"],
        ["train-detector", "--data", "a.json", "--batch-size", "0"],
    ],
)
def test_numeric_options_are_checked(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"argument {args[-2]}" in err and "Traceback" not in err


def test_close_up_photo_is_one_face_either_way(examples, tmp_path):
    photo = str(examples / "closeup_563.jpg")
    for name, extra in (("pyramid", []), ("single", ["--single-scale"])):
        assert main(["image", photo, "--no-save", "-q", "--json", str(tmp_path / f"{name}.json"), *extra]) == 0
        assert len(json.loads((tmp_path / f"{name}.json").read_text())["images"][0]["faces"]) == 1, name


def test_url_that_trickles_bytes_times_out_as_a_whole():
    import socket
    import threading
    import time

    from maskwatch.imageio import fetch_url

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def trickle():  # a valid HTTP answer, one body byte every 0.2 s: no single read ever times out
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                try:
                    conn.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=trickle, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="not complete after 1 s"):
        fetch_url(f"http://127.0.0.1:{srv.getsockname()[1]}/slow.jpg", timeout=1.0)
    assert time.monotonic() - t0 < 3
    srv.close()


def test_a_bug_is_one_line_plus_a_traceback_file(monkeypatch, capsys):
    import maskwatch.cli as cli

    def broken(args):
        raise KeyError("oops")

    monkeypatch.setitem(cli.COMMANDS, "image", broken)
    assert cli.main(["image", "x.jpg"]) == cli.EXIT_BUG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error: KeyError" in err[0]
    path = err[0].split("traceback in ")[1].split(";")[0]
    assert "Traceback" in open(path).read() and "broken" in open(path).read()
    os.remove(path)


def test_a_user_error_is_one_line_exit_2(monkeypatch, capsys):
    import maskwatch.cli as cli
    from maskwatch.errors import MaskwatchError

    def missing_extra(args):
        raise MaskwatchError("the web service needs FastAPI: pip install 'maskwatch[serve]'")

    monkeypatch.setitem(cli.COMMANDS, "image", missing_extra)
    assert cli.main(["image", "x.jpg"]) == 2
    assert capsys.readouterr().err.strip() == "maskwatch: error: the web service needs FastAPI: pip install 'maskwatch[serve]'"
