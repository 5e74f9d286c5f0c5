"""Runtimes (#48): OpenVINO gives what ONNX Runtime gives at float32 on the shipped examples;
a missing OpenVINO is one line; auto measures once per model and machine and caches it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from maskwatch.boxes import greedy_match, iou_matrix


def test_openvino_finds_the_same_faces_and_labels_as_onnxruntime(examples):
    pytest.importorskip("openvino")
    import maskwatch

    ort = maskwatch.Detector(threads=2)
    ov = maskwatch.Detector(threads=2, runtime="openvino")
    faces = same = 0
    for photo in sorted(examples.glob("*.jpg")):
        a, b = ort.detect(str(photo)), ov.detect(str(photo))
        assert len(a) == len(b), photo.name
        pairs = greedy_match(iou_matrix(np.array([f.box for f in a]), np.array([f.box for f in b])), 0.99)
        assert len(pairs) == len(a), photo.name  # every box within IoU 0.99
        faces += len(a)
        same += sum(a[i].label == b[j].label and abs(a[i].score - b[j].score) < 1e-3 for i, j in pairs)
    assert faces > 20 and same == faces


def test_a_missing_openvino_is_one_line(examples, monkeypatch, capsys):
    from maskwatch.cli import main

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    assert main(["image", str(examples / "street_717.jpg"), "--no-save", "-q", "--runtime", "openvino"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'maskwatch[openvino]'" in err[0]


def test_auto_measures_once_and_caches(tmp_path, monkeypatch):
    import maskwatch.runtimes.auto as auto
    from maskwatch.runtimes import make_session

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    real = auto._time
    monkeypatch.setattr(auto, "_time", lambda s, f: calls.append(1) or real(s, f))
    model = str(__import__("maskwatch.classify", fromlist=["x"]).DEFAULT_CLASSIFIER.file)
    first = auto.fastest(model, 1)
    n = len(calls)
    assert n >= 1 and first in auto.CANDIDATES
    assert auto.fastest(model, 1) == first and len(calls) == n  # from the cache
    cache = (tmp_path / "maskwatch" / "runtimes.json").read_text()
    assert first in cache and "seconds_per_run" in cache
    session = make_session(model, 1, "auto")
    assert session.get_inputs()[0].name == "crops"
