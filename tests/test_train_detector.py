import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from maskwatch.cli import main  # noqa: E402


def quick_run(examples, out) -> list[str]:
    """`train-detector` for one quick epoch on the example photos."""
    data = str(examples / "annotations.json")
    return ["train-detector", "--data", data, "--epochs", "1", "--batch-size", "2", "--out", str(out), "--no-progress", "--threads", "2"]


def test_graph_module_matches_onnx_runtime():
    import onnxruntime as ort

    from maskwatch.detectors.retinaface import WIDERFACE_DETECTOR, detector_weights
    from maskwatch.train.onnx_graph import OnnxGraphModule

    data = detector_weights(WIDERFACE_DETECTOR)
    net = OnnxGraphModule(onnx.load_from_string(data))
    x = np.random.default_rng(0).normal(0, 50, (1, 3, 96, 160)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x})
    with torch.no_grad():
        got = net(torch.from_numpy(x))
    for w, g in zip(want, got):
        np.testing.assert_allclose(g.numpy(), w, atol=1e-3)


def test_match_marks_anchors_of_each_face():
    from maskwatch.detectors.retinaface import make_priors
    from maskwatch.train.detector import match

    pri = make_priors(128, 128, (8, 16, 32), ((16, 32), (64, 128), (256, 512)))
    xyxy = np.concatenate([pri[:, :2] - pri[:, 2:] / 2, pri[:, :2] + pri[:, 2:] / 2], 1) * 128
    conf, loc, cls = match(np.array([[40, 40, 72, 72, 2]], np.float32), pri, xyxy, 128, (0.1, 0.2))
    assert conf.sum() >= 1 and np.isfinite(loc).all() and (cls[conf > 0] == 2).all()
    k = int(np.flatnonzero(conf)[0])  # decoding the target gives the face back
    c = pri[k, :2] + loc[k, :2] * 0.1 * pri[k, 2:]
    wh = pri[k, 2:] * np.exp(loc[k, 2:] * 0.2)
    assert np.allclose(np.r_[c - wh / 2, c + wh / 2] * 128, [40, 40, 72, 72], atol=1e-3)


def test_train_detector_cli_writes_a_usable_detector(examples, tmp_path, capsys):
    out = tmp_path / "det.onnx"
    rc = main(quick_run(examples, out))
    assert rc == 0 and out.stat().st_size > 1_000_000
    assert "epoch=1 loss=" in capsys.readouterr().err
    from maskwatch import Detector

    det = Detector(detector=str(out), threads=2)
    faces = det.detect(str(examples / "street_717.jpg"))
    assert det.info()["detector"] == "det" and len(faces) >= 1
    assert main(["image", str(examples / "street_717.jpg"), "--detector", str(tmp_path / "nope.onnx"), "--no-save"]) == 2
    assert "detector model not found" in capsys.readouterr().err


def test_mask_head_in_onnx_matches_torch():
    import onnxruntime as ort

    from maskwatch.detectors.retinaface import WIDERFACE_DETECTOR, detector_weights
    from maskwatch.train.mask_head import MASK_OUTPUT, MaskHead, append_to_proto, feature_inputs
    from maskwatch.train.onnx_graph import OnnxGraphModule

    proto = onnx.load_from_string(detector_weights(WIDERFACE_DETECTOR))
    torch.manual_seed(0)
    head = MaskHead()
    for p in head.parameters():  # away from the init, so a wrong layer order or layout shows
        p.data.normal_(0, 0.2)
    x = np.random.default_rng(1).normal(0, 50, (1, 3, 96, 128)).astype(np.float32)
    with torch.no_grad():
        *_, f1, f2, f3 = OnnxGraphModule(proto)(torch.from_numpy(x), extra=tuple(feature_inputs(proto)))
        want = torch.softmax(head([f1, f2, f3]), -1).numpy()
    sess = ort.InferenceSession(append_to_proto(proto, head).SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run([MASK_OUTPUT], {"input": x})[0]
    conf = sess.run(["conf"], {"input": x})[0]
    assert got.shape == (1, conf.shape[1], 3)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_mask_head_detector_labels_faces(examples, tmp_path, capsys):
    out = tmp_path / "head.onnx"
    rc = main([*quick_run(examples, out), "--mask-head"])
    assert rc == 0
    from maskwatch import Detector

    photo = str(examples / "street_717.jpg")
    both = Detector(detector=str(out), threads=2, labels_from="both")
    head = Detector(detector=str(out), threads=2, labels_from="detector")
    crop = Detector(detector=str(out), threads=2)  # the default
    assert crop.info()["labels_from"] == "classifier" and both.info()["labels_from"] == "both"
    assert both.mask_head is not None
    fb, fh, fc = both.detect(photo), head.detect(photo), crop.detect(photo)
    assert len(fb) == len(fh) == len(fc) >= 1
    for b, h, c in zip(fb, fh, fc):
        assert abs(sum(h.probs.values()) - 1) < 1e-4
        for label in b.probs:  # "both" is the mean of the other two
            assert b.probs[label] == pytest.approx((h.probs[label] + c.probs[label]) / 2, abs=1e-5)
    # Boxes from elsewhere (a tracker) have no head output: the classifier labels them.
    found = both.find_faces(both_img := __import__("cv2").imread(photo))
    from dataclasses import replace

    np.testing.assert_allclose(both.class_probs(both_img, replace(found, mask_probs=None)), crop.class_probs(both_img, found), atol=1e-6)
    capsys.readouterr()
    assert main(["image", photo, "--no-save", "--detector", "widerface", "--labels-from", "detector"]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no mask head" in err and len(err.splitlines()) == 1


def test_zoom_crops_span_tiny_to_frame_filling_faces(examples):
    from maskwatch.datasets import load_annotations
    from maskwatch.imageio import read_image
    from maskwatch.train.detector import random_crop

    rng = np.random.default_rng(0)
    mean = np.array([104, 117, 123], np.float32)
    heights = []
    for item in load_annotations(examples / "annotations.json"):
        image = read_image(item.path)
        boxes = np.array([(*b[:4], 0) for b in item.boxes], np.float32)
        for _ in range(20):
            x, b = random_crop(image, boxes, 256, (1.4, 2.6), mean, rng, face_px=(8, 240))
            assert x.shape == (3, 256, 256) and len(b) >= 1, "the picked face stays in the crop"
            assert (b[:, :4] >= 0).all() and (b[:, :4] <= 256).all()
            heights += list(b[:, 3] - b[:, 1])
    assert min(heights) < 16 and max(heights) > 150


def test_annotation_part_syntax(tmp_path):
    import json

    from maskwatch.datasets import load_annotations, parse_source

    (tmp_path / "annotations.json").write_text(
        json.dumps({"images": [{"file": f"{n}.jpg", "width": 10, "height": 10, "boxes": [[1, 1, 5, 5, "with_mask"]]} for n in "ab"]})
    )
    (tmp_path / "split.json").write_text(json.dumps({"train": ["a.jpg"], "val": ["b.jpg"]}))
    assert parse_source(f"{tmp_path}/annotations.json:val") == (tmp_path / "annotations.json", tmp_path / "split.json", "val")
    assert [i.key for i in load_annotations(f"{tmp_path}/annotations.json:train")] == ["a.jpg"]
    assert len(load_annotations(tmp_path / "annotations.json")) == 2


def test_min_anchors_gives_a_small_face_more_positive_anchors():
    from maskwatch.detectors.retinaface import make_priors
    from maskwatch.train.detector import match

    pri = make_priors(128, 128, (8, 16, 32), ((16, 32), (64, 128), (256, 512)))
    xyxy = np.concatenate([pri[:, :2] - pri[:, 2:] / 2, pri[:, :2] + pri[:, 2:] / 2], 1) * 128
    small = np.array([[61, 61, 71, 71, 1]], np.float32)  # 10 px: under the smallest anchor (16 px)
    plain, _, _ = match(small, pri, xyxy, 128, (0.1, 0.2))
    more, loc, cls = match(small, pri, xyxy, 128, (0.1, 0.2), min_anchors=3)
    assert plain.sum() == 1 and more.sum() == 3 and (cls[more > 0] == 1).all()
    for k in np.flatnonzero(more):  # every added anchor is encoded against the same face
        c = pri[k, :2] + loc[k, :2] * 0.1 * pri[k, 2:]
        wh = pri[k, 2:] * np.exp(loc[k, 2:] * 0.2)
        assert np.allclose(np.r_[c - wh / 2, c + wh / 2] * 128, small[0, :4], atol=1e-3)
    # A face that already holds enough anchors is left as the IoU rule made it.
    big = np.array([[32, 32, 96, 96, 0]], np.float32)
    assert (match(big, pri, xyxy, 128, (0.1, 0.2), min_anchors=3)[0] == match(big, pri, xyxy, 128, (0.1, 0.2))[0]).all()
