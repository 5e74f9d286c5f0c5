"""The part check (#47): crops placed by landmarks, a real (small) model trained by the CLI, its
use in the photo pipeline, reasons in every output, and one-line errors for bad models."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.crops import part_crops
from maskwatch.parts import REASONS, combine, reason

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "maskwatch.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_part_crops_follow_the_face_roll_and_scale():
    # A "face" of known landmarks: a red nose tip and a blue mouth, turned by 30 degrees.
    img = np.full((400, 400, 3), 255, np.uint8)
    eyes, nose, mouth = np.array([200.0, 150.0]), np.array([200.0, 190.0]), np.array([200.0, 230.0])
    lm = np.array([eyes - (30, 0), eyes + (30, 0), nose, mouth - (20, 0), mouth + (20, 0)])
    cv2.circle(img, tuple(int(v) for v in nose), 5, (0, 0, 255), -1)
    cv2.circle(img, tuple(int(v) for v in mouth), 5, (255, 0, 0), -1)
    rot = cv2.getRotationMatrix2D((200, 200), 30, 1.0)
    turned = cv2.warpAffine(img, rot, (400, 400), borderValue=(255, 255, 255))
    lm_turned = np.hstack([lm, np.ones((5, 1))]) @ rot.T
    for image, points in ((img, lm), (turned, lm_turned)):
        nose_crop, mouth_crop = part_crops(image, points, 48)
        ys, xs = np.nonzero((nose_crop[:, :, 2] > 200) & (nose_crop[:, :, 0] < 80))
        assert len(xs) and abs(xs.mean() - 24) < 3 and abs(ys.mean() - 24 + 0.05 / 1.1 * 48) < 3  # nose at the centre, upright
        ys, xs = np.nonzero((mouth_crop[:, :, 0] > 200) & (mouth_crop[:, :, 2] < 80))
        assert len(xs) and abs(xs.mean() - 24) < 3 and ys.mean() < 24  # the mouth above the crop's centre: the chin below it
    # A face far larger than the crop is area-averaged, not aliased: a fine stripe pattern averages to grey.
    big = np.zeros((2000, 2000, 3), np.uint8)
    big[:, ::2] = 255
    crop = part_crops(big, lm * 5, 48)[0]
    assert 100 < crop.mean() < 155 and crop.std() < 20


def test_combine_and_reasons():
    p = np.array([[0.2, 0.6, 0.2], [0.5, 0.3, 0.2]], np.float32)
    parts = np.array([[0.1, 0.9, 0.05, 0.15, 0.8], [0.9, 0.9, 0.6, 0.2, 0.2]], np.float32)
    out = combine(p, parts, 1.0)
    assert np.allclose(out.sum(1), 1) and out[0].argmax() == 2  # the part check turns a bare read into incorrect
    assert np.allclose(combine(p, parts, 0.0), p)  # weight 0: the classifier alone
    assert reason("mask_worn_incorrectly", 0.1, 0.9) == "nose uncovered"
    assert reason("mask_worn_incorrectly", 0.1, 0.1) == "chin only"
    assert reason("with_mask", 0.1, 0.9) is None and reason("mask_worn_incorrectly", math.nan, math.nan) is None
    assert set(REASONS.values()) == {"nose uncovered", "chin only", "mouth uncovered", "mask not fitted"}


@pytest.fixture(scope="module")
def part_model(tmp_path_factory):
    """A part check trained by the CLI on the shipped examples (2 epochs: real, not good)."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("parts") / "parts.onnx"
    r = _cli("train-parts", "--data", EXAMPLES / "annotations.json", "--epochs", "2", "--batch-size", "16", "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "faces with landmarks" in r.stdout and out.is_file() and out.with_suffix(".json").is_file()
    return out


def test_trained_part_model_records_itself(part_model):
    import onnxruntime as ort

    meta = ort.InferenceSession(str(part_model)).get_modelmeta().custom_metadata_map
    assert meta["kind"] == "part_check" and json.loads(meta["outputs"])[:2] == ["nose_covered", "mouth_covered"]
    assert json.loads(meta["held_out"])["val_faces"] > 0


def test_pipeline_with_parts_gives_reasons_in_json_and_csv(part_model, tmp_path):
    import maskwatch

    plain = maskwatch.Detector(parts="off")
    checked = maskwatch.Detector(parts=str(part_model), part_weight=3.0)
    assert checked.parts is not None and checked.info()["parts"] == "parts"
    image = cv2.imread(str(EXAMPLES / "closeup_563.jpg"))
    a, b = plain.detect(image), checked.detect(image)
    assert [f.box for f in a] == [f.box for f in b]  # the part check changes labels, never boxes
    big = [i for i, f in enumerate(b) if f.box[3] - f.box[1] >= checked.parts.min_face_px]
    assert big, "the close-up has a face the part check looks at"
    assert any(abs(a[i].probs["with_mask"] - b[i].probs["with_mask"]) > 1e-4 for i in big)
    for f in b:
        assert (f.reason is not None) == (f.label == "mask_worn_incorrectly" and f.box[3] - f.box[1] >= checked.parts.min_face_px)
    # Weight 0 is the classifier alone.
    zero = maskwatch.Detector(parts=str(part_model), part_weight=0.0).detect(image)
    assert [f.label for f in zero] == [f.label for f in a]

    out = tmp_path / "o"
    r = _cli(
        "image",
        EXAMPLES,
        "--parts",
        part_model,
        "--part-weight",
        "3",
        "--json",
        out / "r.json",
        "--csv",
        out / "r.csv",
        "--out",
        out / "img",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "r.json").read_text())
    from schema import check_schema

    check_schema(doc)
    assert doc["model"]["parts"] == "parts"
    with open(out / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert "reason" in rows[0]
    by_json = [f.get("reason") or "" for img in doc["images"] for f in img["faces"]]
    assert sorted(r["reason"] for r in rows) == sorted(by_json)


def test_bad_part_models_are_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    for model, expected in (
        (tmp_path / "missing.onnx", "part check model not found"),
        (bad, "cannot load part check model"),
        (ROOT / "src/maskwatch/models/mask_classifier.onnx", "is not a part check model"),
    ):
        r = _cli("image", EXAMPLES / "street_717.jpg", "--parts", model, "--out", tmp_path / "o")
        assert r.returncode == 2 and expected in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.strip().count("\n") == 0
    r = _cli("image", EXAMPLES / "street_717.jpg", "--part-weight", "-1", "--out", tmp_path / "o")
    assert r.returncode == 2 and "--part-weight" in r.stderr


MASKTHEFACE = ROOT.parent / "shared" / "data" / "masktheface"


@pytest.mark.skipif(not (MASKTHEFACE / "masks.cfg").is_file(), reason="needs ../shared/data/masktheface")
def test_real_mask_templates_are_worn_where_asked():
    from maskwatch.train.masktheface import load_templates, pick, wear_mask

    templates = load_templates(MASKTHEFACE)
    assert len(templates) == 21 and all(t.anchors.shape == (6, 2) for t in templates)
    # A flat grey face with its landmarks; what the mask covers is what changed.
    face = np.full((300, 300, 3), 128, np.uint8)
    lm = np.array([[120, 120], [180, 120], [150, 155], [127, 190], [173, 190]], np.float32)
    rng = np.random.default_rng(0)
    nose, mouth, eye = (150, 155), (150, 190), (120, 120)
    for wear, nose_covered, mouth_covered in (("right", True, True), ("under_nose", False, True), ("chin", False, False)):
        for _ in range(5):
            out = wear_mask(face, lm, pick(templates, lm, rng), wear, rng)
            changed = np.abs(out.astype(int) - face).sum(2) > 12
            assert changed[nose[1], nose[0]] == nose_covered, wear
            assert changed[mouth[1], mouth[0]] == mouth_covered, wear
            assert not changed[eye[1], eye[0]]  # never over the eyes
    # A face turned to one side gets a turned template.
    turned = lm + np.array([[0, 0], [0, 0], [25, 0], [10, 0], [10, 0]], np.float32)
    assert pick(templates, turned, rng).name.endswith(("_left", "_right"))


def test_train_parts_bad_input_is_one_line(tmp_path):
    pytest.importorskip("torch")
    r = _cli("train-parts", "--data", tmp_path / "nowhere", "--out", tmp_path / "p.onnx", "--no-progress")
    assert r.returncode == 2 and "not found" in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
    r = _cli("train-parts", "--pack", tmp_path / "none.npz", "--out", tmp_path / "p.onnx")
    assert r.returncode == 2 and "pack not found" in r.stderr
    # One unreadable photo among good ones is reported and skipped.
    folder = tmp_path / "faces" / "with_mask"
    folder.mkdir(parents=True)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    img = cv2.imread(str(EXAMPLES / "closeup_563.jpg"))
    cv2.imwrite(str(folder / "good.jpg"), img)
    r = _cli("train-parts", "--data", tmp_path / "faces", "--epochs", "1", "--out", tmp_path / "p.onnx", "--no-progress")
    assert "skipped:" in r.stdout and "broken.jpg" in r.stdout, r.stdout + r.stderr
