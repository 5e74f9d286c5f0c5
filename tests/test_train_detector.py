import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from maskwatch.cli import main  # noqa: E402


def test_graph_module_matches_onnx_runtime():
    import onnxruntime as ort

    from maskwatch.faces import _load_weights
    from maskwatch.specs import WIDERFACE_DETECTOR
    from maskwatch.train.onnx_graph import OnnxGraphModule

    data = _load_weights(WIDERFACE_DETECTOR)
    net = OnnxGraphModule(onnx.load_from_string(data))
    x = np.random.default_rng(0).normal(0, 50, (1, 3, 96, 160)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x})
    with torch.no_grad():
        got = net(torch.from_numpy(x))
    for w, g in zip(want, got):
        np.testing.assert_allclose(g.numpy(), w, atol=1e-3)


def test_match_marks_anchors_of_each_face():
    from maskwatch.faces import make_priors
    from maskwatch.train.detector import match

    pri = make_priors(128, 128, (8, 16, 32), ((16, 32), (64, 128), (256, 512)))
    xyxy = np.concatenate([pri[:, :2] - pri[:, 2:] / 2, pri[:, :2] + pri[:, 2:] / 2], 1) * 128
    conf, loc = match(np.array([[40, 40, 72, 72]], np.float32), pri, xyxy, 128, (0.1, 0.2))
    assert conf.sum() >= 1 and np.isfinite(loc).all()
    k = int(np.flatnonzero(conf)[0])  # decoding the target gives the face back
    c = pri[k, :2] + loc[k, :2] * 0.1 * pri[k, 2:]
    wh = pri[k, 2:] * np.exp(loc[k, 2:] * 0.2)
    assert np.allclose(np.r_[c - wh / 2, c + wh / 2] * 128, [40, 40, 72, 72], atol=1e-3)


def test_train_detector_cli_writes_a_usable_detector(examples, tmp_path, capsys):
    out = tmp_path / "det.onnx"
    rc = main(["train-detector", "--data", str(examples / "annotations.json"), "--epochs", "1", "--batch-size", "2",
               "--out", str(out), "--no-progress", "--threads", "2"])
    assert rc == 0 and out.stat().st_size > 1_000_000
    assert "epoch=1 loss=" in capsys.readouterr().err
    from maskwatch import Detector

    det = Detector(detector=str(out), threads=2)
    faces = det.detect(str(examples / "street_717.jpg"))
    assert det.info()["detector"] == "det" and len(faces) >= 1
    assert main(["image", str(examples / "street_717.jpg"), "--detector", str(tmp_path / "nope.onnx"), "--no-save"]) == 2
    assert "detector model not found" in capsys.readouterr().err
