"""The review loop (#46): faces kept from real photos into a real SQLite store, answers from an
annotation file and from the page in Chromium, export, and a CPU fine-tune on the answers."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request

import numpy as np
import pytest

from maskwatch.cli import main

ROOT_SRC = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src")


def _photos(examples, tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    for f in examples.glob("*.jpg"):
        shutil.copy(f, d / f.name)
    shutil.copy(examples / "annotations.json", d / "annotations.json")
    return d


def test_photos_fill_a_store_once_and_answers_come_in_and_go_out(examples, tmp_path, capsys):
    from maskwatch.datasets import load_annotations
    from maskwatch.review.io import read_boxes
    from maskwatch.review.store import ReviewStore

    photos = _photos(examples, tmp_path)
    store_dir = tmp_path / "store"
    assert main(["image", str(photos), "--no-save", "-q", "--review", str(store_dir)]) == 0
    assert "face(s) kept for a look" in capsys.readouterr().err
    store = ReviewStore(store_dir)
    kept = store.faces()
    assert kept, "the example photos have faces the model is unsure of"
    assert all(f["why"] in ("unsure", "sample") for f in kept)
    for f in kept:  # each with its crops, box, probabilities and size
        assert store.crop_path(f["id"]).is_file() and store.crop_path(f["id"], context=True).is_file()
        assert len(f["box"]) == 4 and set(f["probs"]) >= {"with_mask", "without_mask", "mask_worn_incorrectly"} and f["width"] > 0
    # --review-keep all: every face, the ones the default leaves out marked "extra", asked last.
    every = tmp_path / "every"
    assert main(["image", str(photos), "--no-save", "-q", "--review", str(every), "--review-keep", "all"]) == 0
    all_faces = ReviewStore(every).faces()
    assert len(all_faces) > len(kept) and {f["why"] for f in all_faces} >= {"extra"}
    assert ReviewStore(every).next_face()["why"] != "extra"
    # A second run over the same photos keeps no face twice.
    assert main(["image", str(photos), "--no-save", "-q", "--review", str(store_dir)]) == 0
    assert len(store.faces()) == len(kept)

    # Answers from the real annotations of the photos (IoU >= 0.5).
    assert main(["review", "import", str(store_dir), "--annotations", str(photos / "annotations.json")]) == 0
    out = capsys.readouterr().out
    answered = store.faces(answered=True)
    assert answered and f"{len(answered)} of {len(kept)} open face(s) labelled" in out
    truth = read_boxes(str(photos / "annotations.json"))
    for f in answered:  # each answer is the label of the box it overlaps
        boxes = truth[str((photos / f["source"].split("/")[-1]).resolve())]
        best = max(boxes, key=lambda b: _iou(b[:4], f["box"]))
        assert _iou(best[:4], f["box"]) >= 0.5 and best[4] == f["label"]

    # An import that names none of the store's photos changes nothing: one line, exit 2.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"images": [{"file": "elsewhere.jpg", "width": 9, "height": 9, "boxes": [[0, 0, 5, 5, "with_mask"]]}]}))
    before = store.counts()
    assert main(["review", "import", str(store_dir), "--annotations", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matched none" in err
    assert store.counts() == before

    # Export: class folders of crops, and box files that evaluate / train and COCO tools read.
    exp = tmp_path / "export"
    assert main(["review", "export", str(store_dir), str(exp)]) == 0
    n = len(list(exp.glob("classes/*/*.jpg"))) + len(list(exp.glob("not_a_face/*.jpg")))
    assert n == len(answered)
    ann = load_annotations(exp / "annotations.json")
    assert sum(len(a.boxes) for a in ann) == len(answered)
    coco = read_boxes(str(exp / "coco.json"))
    assert sorted(b for boxes in coco.values() for b in boxes) == sorted(b for a in ann for b in a.boxes)
    assert main(["review", "export", str(store_dir), str(exp)]) == 2  # never over an earlier export


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _candidate(i, unsureness, camera="cam"):
    from maskwatch.review.store import Candidate

    x = 20 + 70 * (i % 8)
    y = 20 + 70 * (i // 8)
    return Candidate(
        "frame",
        camera,
        (x, y, x + 50, y + 50),
        {"with_mask": 0.5, "without_mask": 0.4, "mask_worn_incorrectly": 0.1},
        0.9,
        "with_mask",
        "unsure",
        unsureness,
        key=f"k{i}",
    )


def _noise(seed=0):
    return np.random.default_rng(seed).integers(0, 255, (600, 600, 3), dtype=np.uint8)


def test_a_camera_hour_keeps_its_least_sure_faces_and_bad_stores_are_one_line(tmp_path, capsys):
    from maskwatch.review.store import ReviewStore

    store = ReviewStore(tmp_path / "s")
    image = _noise()
    for i, u in enumerate([0.2, 0.9, 0.5, 0.95, 0.1, 0.7]):
        store.add(image, _candidate(i, u), margin=0.15, per_hour=3)
    assert sorted(round(f["unsureness"], 2) for f in store.faces()) == [0.7, 0.9, 0.95]
    kept = {f["id"] for f in store.faces()}
    assert {p.stem for p in store.crops.glob("*.jpg") if "_" not in p.stem} == {str(i) for i in kept}  # dropped faces' crops go too

    # A store from a newer maskwatch, and a damaged one: one line each, exit 2, the file untouched.
    newer = tmp_path / "newer"
    ReviewStore(newer)
    with sqlite3.connect(newer / "review.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    assert main(["review", "status", str(newer)]) == 2
    assert "newer maskwatch" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "review.sqlite").write_bytes(b"this is not a database" * 100)
    assert main(["review", "status", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged or not a maskwatch store" in err
    assert (bad / "review.sqlite").read_bytes() == b"this is not a database" * 100
    assert main(["review", "status", str(tmp_path / "none")]) == 2


def test_two_processes_write_one_store_and_every_answer_is_kept(tmp_path):
    """Two writers at once (two cameras in two processes): every face is kept, no error."""
    from maskwatch.review.store import ReviewStore

    store_dir = tmp_path / "s"
    ReviewStore(store_dir)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {ROOT_SRC!r})
        import numpy as np
        from maskwatch.review.store import ReviewStore, Candidate
        cam = sys.argv[1]
        store = ReviewStore({str(store_dir)!r})
        rng = np.random.default_rng(int(sys.argv[2]))
        for i in range(25):
            img = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
            c = Candidate("f", cam, (50, 50, 150, 150), {{"with_mask": 0.5, "without_mask": 0.5, "mask_worn_incorrectly": 0.0}}, 0.9, None, "unsure", 0.9, key=cam + str(i))
            assert store.add(img, c, 0.15) is not None
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, cam, str(seed)], stderr=subprocess.PIPE, text=True)
        for cam, seed in (("a", 1), ("b", 2))
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    store = ReviewStore(store_dir)
    assert len(store.faces()) == 50
    # Two tabs answering the same face: both answers are recorded; the later one stands.
    face = store.next_face("tab1")
    assert store.next_face("tab2")["id"] != face["id"]  # leased to the first tab
    store.answer(face["id"], "with_mask", "tab1")
    store.answer(face["id"], "without_mask", "tab2")
    with sqlite3.connect(store_dir / "review.sqlite") as db:
        assert db.execute("SELECT count(*) FROM answers WHERE face_id = ?", (face["id"],)).fetchone()[0] == 2
    assert store.undo("tab2")["label"] == "with_mask"  # tab2's undo brings back what tab1 said


def test_the_review_page_in_a_real_browser(examples, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian chromium is not installed (setup.sh installs it where it can)")
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("fastapi")
    from test_serve import Server

    from maskwatch.review.store import ReviewStore

    store_dir = tmp_path / "store"
    store = ReviewStore(store_dir)
    image = _noise(3)
    for i in range(5):
        store.add(image, _candidate(i, 0.5 + i / 10), margin=0.15)
    s = Server("--review", str(store_dir), "--token", "sekret")
    try:
        assert urllib.request.urlopen(s.url + "/livez", timeout=10).status == 200
        try:  # behind the token
            urllib.request.urlopen(s.url + "/api/review/next", timeout=10)
            raise AssertionError("the review API answered without the token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                one, two = browser.new_page(), browser.new_page()
                one.goto(s.url + "/review?token=sekret")
                two.goto(s.url + "/review?token=sekret")
                for page in (one, two):
                    page.wait_for_function("document.querySelector('#card').dataset.face", timeout=30000)
                shown_one = one.eval_on_selector("#card", "e => e.dataset.face")
                shown_two = two.eval_on_selector("#card", "e => e.dataset.face")
                assert shown_one != shown_two  # two tabs never get the same face
                assert one.eval_on_selector("#context", "e => e.complete && e.naturalWidth > 0")
                one.keyboard.press("1")
                one.wait_for_function(f"document.querySelector('#card').dataset.face !== '{shown_one}'", timeout=10000)
                two.keyboard.press("3")
                two.wait_for_function(f"document.querySelector('#card').dataset.face !== '{shown_two}'", timeout=10000)
                one.keyboard.press("0")
                one.wait_for_function("document.querySelector('#progress').textContent.startsWith('3 answered')", timeout=10000)
                one.keyboard.press("u")  # takes back the not-a-face answer
                one.wait_for_function("document.querySelector('#progress').textContent.startsWith('2 answered')", timeout=10000)
                one.keyboard.press("s")  # skip: no answer
                time.sleep(0.5)
            finally:
                browser.close()
        labels = {f["id"]: f["label"] for f in ReviewStore(store_dir).faces(answered=True)}
        assert labels == {int(shown_one): "with_mask", int(shown_two): "mask_worn_incorrectly"}
    finally:
        s.stop()


def test_train_on_answers_fine_tunes_the_shipped_classifier_on_the_cpu(examples, tmp_path, capsys):
    pytest.importorskip("torch")
    import onnx

    from maskwatch.classify import MaskClassifier

    photos = _photos(examples, tmp_path)
    store_dir = tmp_path / "store"
    # Every face, so that there are enough answers for a held-out fifth.
    assert main(["image", str(photos), "--no-save", "-q", "--review", str(store_dir), "--conf", "0.5"]) == 0
    from maskwatch.review.select import ReviewPolicy
    from maskwatch.review.sink import ReviewSink

    sink = ReviewSink(str(store_dir), conf=0.5, margin=0.15, policy=ReviewPolicy(max_top=1.01))  # keeps every face
    from maskwatch.photo_job import run_batch

    run_batch([str(p) for p in sorted(photos.glob("*.jpg"))], sinks=[sink])
    assert main(["review", "import", str(store_dir), "--annotations", str(photos / "annotations.json")]) == 0
    capsys.readouterr()
    out = tmp_path / "site.onnx"
    replay = tmp_path / "replay"
    assert main(["review", "export", str(store_dir), str(replay)]) == 0
    t0 = time.monotonic()
    args = [
        "train",
        "--reviews",
        str(store_dir),
        "--out",
        str(out),
        "--steps",
        "4",
        "--batch-size",
        "8",
        "--no-progress",
        "--data",
        str(replay / "classes"),
    ]
    assert main(args) == 0
    assert time.monotonic() - t0 < 180
    err = capsys.readouterr().err
    assert "held-out answers" in err and "accuracy" in err
    model = MaskClassifier(out)  # loads, and says what it learnt from
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    reviews = json.loads(meta["reviews"])
    assert reviews["answers"] == len(__import__("maskwatch.review.store", fromlist=["x"]).ReviewStore(store_dir).faces(answered=True))
    assert json.loads(meta["fine_tuned_from"])["model"] == "mask_classifier.onnx"
    assert model.model_labels == MaskClassifier().model_labels and model.margin == MaskClassifier().margin
    assert out.stat().st_size < 6_000_000  # float16 weights, as shipped
    metrics = json.loads((tmp_path / "site_metrics.json").read_text())
    assert metrics["held_out"]["faces"] > 0 and -1 <= metrics["held_out"]["accuracy"]["diff"] <= 1
    # --tail-layers: only the last layers change, the rest stays the shipped model's, byte for byte.
    tail = tmp_path / "tail.onnx"
    assert main([*args[:4], str(tail), *args[5:], "--tail-layers", "2"]) == 0
    assert "fine-tuning 2 layers" in capsys.readouterr().err
    base = {i.name: i.raw_data for i in onnx.load(str(MaskClassifier().path)).graph.initializer}
    new = {i.name: i.raw_data for i in onnx.load(str(tail)).graph.initializer}
    changed = [k for k in base if base[k] != new[k]]
    assert 0 < len(changed) <= 4 and "mean" not in changed and "std" not in changed
    # Options of the review fine-tune without --reviews are refused.
    assert main(["train", "--data", str(replay / "classes"), "--base", str(out)]) == 2


def test_video_and_site_keep_one_face_per_track(examples, tmp_path, capsys):
    pytest.importorskip("supervision")
    from maskwatch.clips import make_pan_clip
    from maskwatch.review.store import ReviewStore

    clip = tmp_path / "clip.avi"
    make_pan_clip([examples / "group_698.jpg", examples / "street_717.jpg"], clip, frames_per_photo=40)
    store_dir = tmp_path / "store"
    assert main(["video", "--source", str(clip), "--review", str(store_dir), "--review-per-hour", "1000"]) == 0
    err = capsys.readouterr().err
    faces = ReviewStore(store_dir).faces()
    assert faces and f"review: {len(faces)} face(s) kept" in err
    assert all(f["track_id"] is not None and f["frame"] is not None for f in faces)
    assert len({f["track_id"] for f in faces}) == len(faces)  # one per track
    assert {f["why"] for f in faces} <= {"unsure", "flip", "sample"}
    # The same from a site file's [review] table.
    site = tmp_path / "site.toml"
    site_store = tmp_path / "site_store"
    site.write_text(
        f'stop = "when-files-end"\n[review]\nstore = "{site_store}"\n[[cameras]]\nname = "door"\nsource = "{clip}"\ndetect_fps = 25\n'
    )
    assert main(["site", str(site), "--summary", str(tmp_path / "s.json")]) == 0
    site_faces = ReviewStore(site_store).faces()
    assert site_faces and {f["camera"] for f in site_faces} == {"door"}
    site.write_text(f'[review]\nstore = 5\n[[cameras]]\nname = "door"\nsource = "{clip}"\n')
    assert main(["site", str(site)]) == 2
    assert "[review]: store must be a folder" in capsys.readouterr().err


def test_a_locked_store_is_one_line_and_loses_nothing(tmp_path, monkeypatch, capsys):
    """Another program holds the store (an exclusive transaction) past the busy wait: the answer
    is refused in one line, the store keeps what it had, and goes on once the lock is gone."""
    import maskwatch.review.store as store_mod
    from maskwatch.review.store import ReviewStore

    store = ReviewStore(tmp_path / "s")
    face_id = store.add(_noise(5), _candidate(0, 0.9), margin=0.15)
    store.answer(face_id, "with_mask", "tab")
    monkeypatch.setattr(store_mod, "BUSY_MS", 200)
    other = sqlite3.connect(tmp_path / "s" / "review.sqlite", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ValueError, match="locked|another program"):
            store.answer(face_id, "without_mask", "tab")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.faces(answered=True)[0]["label"] == "with_mask"
    store.answer(face_id, "without_mask", "tab")
    assert store.faces(answered=True)[0]["label"] == "without_mask"
