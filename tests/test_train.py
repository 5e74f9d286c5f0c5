import json
import shutil

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from maskwatch.cli import main  # noqa: E402
from maskwatch.train.data import dhash, group_ids, split_by_group  # noqa: E402
from maskwatch.types import LABELS  # noqa: E402

# One quick epoch on the tiny data set, a third of its photo groups held out.
QUICK = ["--epochs", "1", "--batch-size", "8", "--val-fraction", "0.3", "--no-progress", "--threads", "2"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory, examples, example_annotations):
    """Class folders of real face crops cut from the example photos, plus the photos' annotations."""
    root = tmp_path_factory.mktemp("tiny")
    for name, boxes in example_annotations.items():
        image = cv2.imread(str(examples / name))
        for k, (x1, y1, x2, y2, label) in enumerate(boxes):
            label = label.replace("mask_weared_incorrect", "mask_worn_incorrectly")
            (root / "faces" / label).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "faces" / label / f"{name[:-4]}_{k}.jpg"), image[y1:y2, x1:x2])
    shutil.copy(examples / "annotations.json", root / "annotations.json")
    for name in example_annotations:
        shutil.copy(examples / name, root / name)
    return root


def test_train_cli_writes_model_plots_and_report(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    rc = main(
        [
            "train",
            "--data",
            str(tiny_dataset / "faces"),
            str(tiny_dataset / "annotations.json"),
            *QUICK,
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    for suffix in ("_plot.png", "_confusion.png", "_report.txt", "_metrics.json"):
        assert out.with_name("m" + suffix).stat().st_size > 0
    metrics = json.loads(out.with_name("m_metrics.json").read_text())
    assert len(metrics["history"]) == 1 and metrics["val_counts"]
    assert "precision" in capsys.readouterr().err
    # The exported model runs in the inference path, labels read from its metadata.
    from maskwatch import Detector

    det = Detector(classifier=out, threads=2)
    assert det.classifier.labels == LABELS
    faces = det.detect(str(tiny_dataset / "street_717.jpg"))
    assert faces and all(abs(sum(f.probs.values()) - 1) < 1e-4 for f in faces)
    # It records how often each class was drawn (video divides that prior out).
    counts, balance = metrics["train_counts"], metrics["config"]["balance"]
    expected = {c: n ** (1 - balance) for c, n in counts.items()}
    assert det.classifier.class_prior == pytest.approx({c: v / sum(expected.values()) for c, v in expected.items()}, rel=1e-4)


def test_onnx_export_matches_torch(tmp_path):
    import onnxruntime as ort

    from maskwatch.train.engine import TrainConfig, export_onnx
    from maskwatch.train.model import Deployable, MobileNetV2

    torch.manual_seed(0)
    model = Deployable(MobileNetV2(num_classes=3), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
    path = tmp_path / "x.onnx"
    export_onnx(model, path, TrainConfig(data=[], input_size=64))
    x = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"crops": x})[0]
    # Weights are stored as float16 (half the file): outputs agree to ~1e-4.
    np.testing.assert_allclose(got, expected, atol=1e-3)
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["labels"]) == list(LABELS) and meta["input_size"] == "64"


def test_pretrained_weights_load_into_our_mobilenet():
    from maskwatch.train.model import MobileNetV2
    from maskwatch.train.pretrained import load_imagenet_backbone

    net = MobileNetV2(num_classes=3)
    before = net.features[0][0].weight.clone()
    try:
        load_imagenet_backbone(net)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert not torch.equal(before, net.features[0][0].weight)


def test_group_split_keeps_edited_copies_together():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    near = base.copy()
    near[:4, :4] = 0  # a tiny edit keeps the hash within a few bits
    keys = ["a:1", "a:1", "b:x", "c:y"]  # two crops of one photo, then two photos
    hashes = [dhash(base), dhash(base), dhash(near), dhash(other)]
    g = group_ids(keys, hashes)
    assert g[0] == g[1] == g[2] and g[3] != g[0]
    tr, va = split_by_group(np.array([0, 0, 0, 1, 2, 3, 4, 5, 6, 7]), 0.3, seed=0)
    assert set(tr).isdisjoint(va) and len(tr) + len(va) == 10
    assert not ({0, 1, 2} & set(tr) and {0, 1, 2} & set(va))


def test_prajna_pairs_share_a_group():
    from pathlib import Path

    from maskwatch.train.data import _source_stem

    assert _source_stem(Path("12-with-mask.jpg")) == _source_stem(Path("12.jpg")) == "12"


def test_bad_training_data_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "no class folders" in capsys.readouterr().err
    (tmp_path / "cats").mkdir()
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "unknown label 'cats'" in capsys.readouterr().err


def test_sampling_favours_rare_classes_and_weighted_sources():
    from maskwatch.train.data import Samples
    from maskwatch.train.engine import sampling_probs

    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    origins = np.array([0, 0, 1, 1, 0, 0, 1, 1, 1])
    s = Samples(np.zeros((9, 2, 2, 3), np.uint8), labels, np.arange(9), [""] * 9, origins)
    p = sampling_probs(s, balance=1.0)
    # balance 1: each class drawn equally often in total
    assert np.allclose([p[labels == c].sum() for c in range(3)], 1 / 3)
    assert np.allclose(sampling_probs(s, balance=0.0), 1 / 9)
    q = sampling_probs(s, balance=0.0, source_weights=[1.0, 3.0])
    assert np.isclose(q[origins == 1].sum(), 3 * q[origins == 0].sum() * 5 / 4)
    assert np.isclose(q.sum(), 1)


def test_source_weights_must_match_data(tiny_dataset, tmp_path, capsys):
    rc = main(
        ["train", "--data", str(tiny_dataset / "faces"), "--source-weights", "1", "2", "--out", str(tmp_path / "m.onnx"), "--no-progress"]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "--source-weights needs one weight per --data source" in err and "Traceback" not in err


def test_non_face_boxes_are_detections_away_from_every_face():
    from maskwatch.detectors import FaceBoxes
    from maskwatch.train.data import non_face_boxes

    class Fixed:
        def detect(self, photo):
            xyxy = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 20, 20]], np.float32)
            return FaceBoxes(xyxy, np.ones(4, np.float32), np.zeros((4, 5, 2), np.float32))

    faces = np.array([[0, 0, 10, 10]], float)
    # IoU with the face: 1, 0.68, 0, 0.25 -> the last two are non-faces
    np.testing.assert_array_equal(non_face_boxes(Fixed(), None, faces), [[50, 50, 60, 60], [0, 0, 20, 20]])
    assert len(non_face_boxes(Fixed(), None, np.zeros((0, 4)))) == 4


def test_split_detections_gives_non_faces_and_one_hit_per_face():
    from maskwatch.train.data import split_detections

    found = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 20, 20], [100, 100, 110, 110]], float)
    faces = np.array([[0, 0, 10, 10], [101, 100, 111, 110]], float)
    non_faces, hits = split_detections(found, faces)
    np.testing.assert_array_equal(non_faces, [[50, 50, 60, 60], [0, 0, 20, 20]])
    # the exact box wins face 0 (the 0.68 one is neither a hit nor a non-face); face 1 matches at 0.82
    assert [(b.tolist(), g) for b, g in hits] == [([0, 0, 10, 10], 0), ([100, 100, 110, 110], 1)]


def test_detected_faces_adds_the_detectors_crops_of_annotated_faces(tiny_dataset, example_annotations):
    from maskwatch.detectors import FaceBoxes
    from maskwatch.train.data import DETECTED, load_samples, without_synthetic
    from maskwatch.types import NOT_A_FACE

    photos = [(cv2.imread(str(tiny_dataset / name)), boxes) for name, boxes in example_annotations.items()]

    class ShiftedAnnotations:
        """Finds every annotated face 1 px to the right, and one non-face per photo."""

        def detect(self, photo):
            boxes = next(bs for image, bs in photos if np.array_equal(image, photo))
            xyxy = np.array([[x1 + 1, y1, x2 + 1, y2] for x1, y1, x2, y2, _ in boxes] + [[0, 0, 9, 9]], np.float32)
            return FaceBoxes(xyxy, np.ones(len(xyxy), np.float32), np.zeros((len(xyxy), 5, 2), np.float32))

    src = [str(tiny_dataset / "annotations.json")]
    plain = load_samples(src, non_face_detector=ShiftedAnnotations(), log=lambda m: None)
    both = load_samples(src, non_face_detector=ShiftedAnnotations(), detected_faces=True, log=lambda m: None)
    again = np.array([n.endswith(DETECTED) for n in both.sources])
    faces = plain.labels != plain.classes.index(NOT_A_FACE)
    big = sum(1 for bs in example_annotations.values() for x1, y1, x2, y2, _ in bs if min(x2 - x1, y2 - y1) >= 8)
    assert faces.sum() == big and again.sum() == big
    # the second crops carry their face's label and photo group, and stay out of validation
    np.testing.assert_array_equal(np.sort(both.labels[again]), np.sort(plain.labels[faces]))
    assert set(both.groups[again]) <= set(both.groups[~again])
    assert not again[without_synthetic(both, np.arange(len(both)))].any()


def test_confident_false_detections_can_be_left_out_of_the_non_faces(tiny_dataset, example_annotations):
    """Two false boxes per photo, scored 0.3 and 0.9: with non_face_max_score 0.5 only the unsure
    one is learnt as not_a_face (a confident one is most often a face nobody boxed)."""
    from maskwatch.detectors import FaceBoxes
    from maskwatch.train.data import load_samples
    from maskwatch.types import NOT_A_FACE

    class TwoFalseBoxes:
        def detect(self, photo):
            xyxy = np.array([[0, 0, 9, 9], [photo.shape[1] - 12, photo.shape[0] - 12, photo.shape[1] - 1, photo.shape[0] - 1]], np.float32)
            return FaceBoxes(xyxy, np.array([0.3, 0.9], np.float32), np.zeros((2, 5, 2), np.float32))

    src = [str(tiny_dataset / "annotations.json")]
    counts = {
        s: load_samples(src, non_face_detector=TwoFalseBoxes(), non_face_max_score=s, log=lambda m: None).class_counts()
        for s in (1.0, 0.5, 0.2)
    }
    photos = len(example_annotations)
    assert [counts[s][NOT_A_FACE] for s in (1.0, 0.5, 0.2)] == [2 * photos, photos, 0]
    assert len({tuple(sorted((k, v) for k, v in c.items() if k != NOT_A_FACE)) for c in counts.values()}) == 1  # faces kept


def test_non_face_max_score_needs_non_faces_and_a_score(tiny_dataset, tmp_path, capsys):
    data = str(tiny_dataset / "annotations.json")
    for extra, says in (
        (["--non-face-max-score", "0.5"], "--non-face-max-score applies while mining --non-faces"),
        (["--non-faces", "--non-face-max-score", "1.5"], "--non-face-max-score is a detector score"),
    ):
        rc = main(["train", "--data", data, *extra, "--out", str(tmp_path / "m.onnx"), "--no-progress"])
        assert rc == 2
        assert says in capsys.readouterr().err


def test_detected_faces_need_non_faces(tiny_dataset, tmp_path, capsys):
    rc = main(
        ["train", "--data", str(tiny_dataset / "annotations.json"), "--detected-faces", "--out", str(tmp_path / "m.onnx"), "--no-progress"]
    )
    assert rc == 2
    assert "--detected-faces crops at the boxes of the --non-faces detector" in capsys.readouterr().err


def test_train_with_non_faces_gives_a_model_that_lowers_face_scores(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "nf.onnx"
    rc = main(
        [
            "train",
            "--data",
            str(tiny_dataset / "annotations.json"),
            "--non-faces",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--val-fraction",
            "0",
            "--out",
            str(out),
            "--no-progress",
            "--threads",
            "2",
        ]
    )
    assert rc == 0
    assert "non-face detections" in capsys.readouterr().err
    from maskwatch import Detector
    from maskwatch.types import NOT_A_FACE

    det = Detector(classifier=out, threads=2, conf=0.05)
    assert det.classifier.model_labels == (*LABELS, NOT_A_FACE) and det.classifier.labels == LABELS
    image = cv2.imread(str(tiny_dataset / "street_717.jpg"))
    found = det.find_faces(image)
    probs, faceness = det.classifier.predict_with_faceness(image, found.xyxy)
    assert probs.shape == (len(found), 3) and np.allclose(probs.sum(1), 1, atol=1e-4)
    assert ((faceness >= 0) & (faceness <= 1)).all()
    faces = det.classify(image, found)
    # face_score = detector score x face probability; boxes that fall under conf are dropped
    want = [(tuple(b), s * f) for b, s, f in zip(found.xyxy.tolist(), found.scores, faceness) if s * f >= 0.05]
    assert [f.box for f in faces] == [b for b, _ in want]
    np.testing.assert_allclose([f.face_score for f in faces], [s for _, s in want], rtol=1e-5)
    assert det.detect(np.full((120, 160, 3), 127, np.uint8)) == []  # a photo with no faces is no error


def test_non_faces_need_box_annotations(tiny_dataset, tmp_path, capsys):
    rc = main(["train", "--data", str(tiny_dataset / "faces"), "--non-faces", "--out", str(tmp_path / "m.onnx"), "--no-progress"])
    assert rc == 2
    assert "--non-faces needs photos with face boxes" in capsys.readouterr().err


def _pasted_pair(rng):
    bare = rng.integers(0, 120, (100, 100, 3), dtype=np.uint8)
    masked = bare.copy()
    masked[55:85, 20:80] = (240, 230, 200)  # a light-blue "mask" pasted on the lower face
    return bare, masked


def test_mask_below_nose_moves_the_pasted_mask_down():
    from maskwatch.train.synth import mask_below_nose

    bare, masked = _pasted_pair(np.random.default_rng(0))
    out = mask_below_nose(bare, masked, 0.3)  # 30 px mask -> 9 px lower
    np.testing.assert_array_equal(out[55:64, 20:80], bare[55:64, 20:80])  # uncovered: the bare face again
    assert (out[64:94, 22:78] == (240, 230, 200)).all()
    np.testing.assert_array_equal(out[:55], bare[:55])
    assert mask_below_nose(bare, bare, 0.3) is None  # no mask
    assert mask_below_nose(bare, masked[:90], 0.3) is None  # not the same photo


def test_synth_incorrect_pairs_stay_in_their_photo_group(tmp_path):
    from maskwatch.train.data import load_samples

    rng = np.random.default_rng(1)
    (tmp_path / "with_mask").mkdir()
    (tmp_path / "without_mask").mkdir()
    for n in range(3):
        bare, masked = _pasted_pair(rng)
        cv2.imwrite(str(tmp_path / "without_mask" / f"{n}.png"), bare)
        cv2.imwrite(str(tmp_path / "with_mask" / f"{n}-with-mask.png"), masked)
    cv2.imwrite(str(tmp_path / "with_mask" / "unpaired.png"), _pasted_pair(rng)[1])
    s = load_samples([str(tmp_path)], synth_incorrect=True, log=lambda m: None)
    assert s.class_counts() == {"with_mask": 4, "without_mask": 3, "mask_worn_incorrectly": 3}
    for i in np.flatnonzero(s.labels == LABELS.index("mask_worn_incorrectly")):
        pair = [j for j in range(len(s)) if s.groups[j] == s.groups[i]]
        assert sorted(s.labels[pair]) == [0, 1, 2]
    assert load_samples([str(tmp_path)], log=lambda m: None).class_counts()["mask_worn_incorrectly"] == 0


def _random_classifier(path, seed, size=64):
    from maskwatch.train.engine import TrainConfig, export_onnx
    from maskwatch.train.model import Deployable, MobileNetV2

    torch.manual_seed(seed)
    net = MobileNetV2(num_classes=3)
    with torch.no_grad():  # untrained batch-norm statistics flatten every output to 1/3: set them on noise
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
            elif isinstance(m, torch.nn.Linear):
                m.weight.normal_(0, 0.5)
        net.train()(torch.randn(16, 3, size, size))
    model = Deployable(net, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
    export_onnx(model, path, TrainConfig(data=[], input_size=size))
    return path


def test_ensemble_averages_its_members(tmp_path, capsys):
    import onnxruntime as ort

    from maskwatch.classify import MaskClassifier

    a, b = _random_classifier(tmp_path / "a.onnx", 0), _random_classifier(tmp_path / "b.onnx", 1)
    out = tmp_path / "ab.onnx"
    assert main(["ensemble", str(a), str(b), "--out", str(out)]) == 0
    x = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3)).astype(np.float32)
    run = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"crops": x})[0] for p in (a, b, out)]
    assert not np.allclose(run[0], run[1], atol=1e-3)
    np.testing.assert_allclose(run[2], (run[0] + run[1]) / 2, atol=1e-5)
    merged = MaskClassifier(out, threads=1)
    assert merged.labels == LABELS and merged.input_size == 64 and not merged.flip  # the mean replaces the mirrored look
    assert MaskClassifier(a, threads=1).flip


def test_ensemble_refuses_models_that_do_not_match(tmp_path, capsys):
    a, c = _random_classifier(tmp_path / "a.onnx", 0), _random_classifier(tmp_path / "c.onnx", 0, size=96)
    assert main(["ensemble", str(a), str(c), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "differ in input_size" in capsys.readouterr().err
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["ensemble", str(a), str(bad), "--out", str(tmp_path / "x.onnx")]) == 2
    assert main(["ensemble", str(a), str(tmp_path / "missing.onnx"), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "not found" in err and "Traceback" not in err


def test_synth_incorrect_without_pairs_warns(tmp_path):
    from maskwatch.train.data import load_samples

    (tmp_path / "with_mask").mkdir()
    cv2.imwrite(str(tmp_path / "with_mask" / "a.png"), _pasted_pair(np.random.default_rng(2))[1])
    said = []
    s = load_samples([str(tmp_path)], synth_incorrect=True, log=said.append)
    assert s.class_counts()["mask_worn_incorrectly"] == 0
    assert any(m.startswith("warning: --synth-incorrect found no pairs") for m in said)


def _constant_teacher(path, probs, size=112, labels=LABELS):
    """A classifier .onnx that gives every crop the same probabilities (ignores its pixels)."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("ReduceMean", ["crops"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "ax"], ["m1"]),
        helper.make_node("Mul", ["m1", "zero"], ["z"]),
        helper.make_node("Add", ["z", "p"], ["probs"]),
    ]
    inits = [
        helper.make_tensor("ax", TensorProto.INT64, [1], [1]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("p", TensorProto.FLOAT, [1, len(probs)], list(probs)),
    ]
    graph = helper.make_graph(
        nodes,
        "constant",
        [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["n", size, size, 3])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", len(probs)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in {"labels": json.dumps(list(labels)), "input_size": str(size)}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


def test_distillation_follows_the_teacher(tiny_dataset, tmp_path, capsys):
    # A teacher that calls every face mask_worn_incorrectly, followed fully: the student must learn
    # to say so too, though hardly any of the tiny data set's labels do. The teacher takes 64 px
    # crops and the student 112: the crops are resized for it.
    teacher = _constant_teacher(tmp_path / "t.onnx", [0.01, 0.01, 0.98], size=64)
    out = tmp_path / "s.onnx"
    rc = main(
        [
            "train",
            "--data",
            str(tiny_dataset / "faces"),
            "--epochs",
            "3",
            "--batch-size",
            "8",
            "--lr",
            "3e-3",
            "--val-fraction",
            "0",
            "--teacher",
            str(teacher),
            "--distill-weight",
            "1",
            "--out",
            str(out),
            "--no-progress",
            "--threads",
            "2",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    assert "distilling from" in capsys.readouterr().err
    from maskwatch.classify import MaskClassifier
    from maskwatch.train.data import load_samples

    crops = load_samples([str(tiny_dataset / "faces")], log=lambda m: None).images
    labels = MaskClassifier(out, threads=2, flip=False).predict_crops(np.stack([cv2.resize(c, (112, 112)) for c in crops])).argmax(1)
    assert (labels == LABELS.index("mask_worn_incorrectly")).mean() > 0.9
    meta = onnx.load(str(out)).metadata_props
    assert json.loads({m.key: m.value for m in meta}["distilled_from"]) == {"teacher": "t.onnx", "distill_weight": 1.0}


def test_teacher_and_device_errors_are_one_line(tiny_dataset, tmp_path, capsys):
    two = _constant_teacher(tmp_path / "t2.onnx", [0.5, 0.5], labels=("with_mask", "without_mask"))
    base = ["train", "--data", str(tiny_dataset / "faces"), "--epochs", "1", "--out", str(tmp_path / "x.onnx"), "--no-progress"]
    assert main(base + ["--teacher", str(two)]) == 2
    assert main(base + ["--teacher", str(tmp_path / "missing.onnx")]) == 2
    if not torch.cuda.is_available():
        assert main(base + ["--device", "cuda"]) == 2
    assert main(base + ["--device", "tpu9"]) == 2
    err = capsys.readouterr().err
    assert (
        "has labels ['with_mask', 'without_mask']; this training has" in err
        and "teacher model not found" in err
        and "unknown device" in err
        and "Traceback" not in err
    )
    if not torch.cuda.is_available():
        assert "sees no CUDA GPU" in err


def test_pack_round_trip_filters_synthetic_and_split(tmp_path):
    # The pack that carries training crops to a GPU machine must give back the samples that
    # `maskwatch train` would load: the same labels, and only the chosen split part's photos.
    from maskwatch.train.data import load_samples

    rng = np.random.default_rng(5)
    for k in range(3):
        bare = cv2.GaussianBlur(_pasted_pair(rng)[0], (9, 9), 3)  # smooth, like photos (noise is JPEG's worst case)
        masked = bare.copy()
        masked[55:85, 20:80] = (240, 230, 200)
        for label, img, name in (("without_mask", bare, f"{k}.jpg"), ("with_mask", masked, f"{k}-with-mask.jpg")):
            (tmp_path / "faces" / label).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(tmp_path / "faces" / label / name), img)
    photo = np.full((200, 300, 3), 120, np.uint8)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), photo)
    ann = {
        "images": [
            {"file": "a.png", "width": 300, "height": 200, "boxes": [[10, 10, 60, 70, "with_mask"]]},
            {"file": "b.png", "width": 300, "height": 200, "boxes": [[100, 20, 150, 90, "without_mask"]]},
        ]
    }
    (tmp_path / "annotations.json").write_text(json.dumps(ann))
    (tmp_path / "split.json").write_text(json.dumps({"fit": ["a.png"], "holdout": ["b.png"]}))
    data = [str(tmp_path / "faces"), str(tmp_path / "annotations.json")]
    full = load_samples(data, synth_incorrect=True, log=lambda m: None)
    from maskwatch.train.pack import load_pack, write_pack

    assert write_pack(full, data, str(tmp_path / "p.npz")) > 0
    synth, data_back = load_pack(str(tmp_path / "p.npz"), None, None, synthetic=True)
    assert data_back == data and synth.class_counts() == full.class_counts()
    assert np.abs(synth.images.astype(int) - full.images.astype(int)).mean() < 2  # JPEG at 90, nothing else
    plain, _ = load_pack(str(tmp_path / "p.npz"), str(tmp_path / "split.json"), "fit", synthetic=False)
    assert plain.class_counts() == {"with_mask": 4, "without_mask": 3, "mask_worn_incorrectly": 0}
    assert sum("@" in n for n in plain.sources) == 1 and any(n.startswith("a.png@") for n in plain.sources)


def _bare_crops(examples, example_annotations, min_px=45):
    from maskwatch.crops import crop_face

    for name, boxes in example_annotations.items():
        image = cv2.imread(str(examples / name))
        for x1, y1, x2, y2, label in boxes:
            if label == "without_mask" and y2 - y1 >= min_px:
                yield crop_face(image, (x1, y1, x2, y2), 0.15, 128)


def test_masks_worn_wrongly_cover_what_their_kind_says(examples, example_annotations):
    from maskwatch.detectors import load_detector
    from maskwatch.settings import PHOTO
    from maskwatch.train.synth import INCORRECT_KINDS, find_landmarks, wear_incorrectly

    detector = load_detector(PHOTO.but(conf=0.3, threads=2))
    checked = 0
    for face in _bare_crops(examples, example_annotations):
        points = find_landmarks(detector, face)
        if points is None:
            continue
        checked += 1
        eyes_y, nose, mouth = points[:2, 1].mean(), points[2], points[3:].mean(0)

        def changed(img, x, y, r=3, face=face):
            x, y = int(round(x)), int(round(y))
            patch = (slice(max(y - r, 0), y + r + 1), slice(max(x - r, 0), x + r + 1))
            return np.abs(img[patch].astype(int) - face[patch].astype(int)).mean() > 12

        chin = mouth + (mouth - nose) * 1.2
        for kind in INCORRECT_KINDS:
            rng = np.random.default_rng(checked)
            out = wear_incorrectly(face, points, kind, rng)
            assert out.shape == face.shape and out.dtype == np.uint8
            # The eyes and nose tip stay bare in every kind: this is what makes it "incorrect".
            assert not changed(out, points[0, 0], eyes_y) and not changed(out, points[1, 0], eyes_y)
            assert not changed(out, *nose, r=1), kind
            if kind == "under_nose":
                assert changed(out, *mouth)
            if kind == "on_chin":
                assert not changed(out, *mouth, r=1) and changed(out, *chin)
            if kind == "one_ear":
                assert not changed(out, *mouth, r=1) and (out != face).any()
    assert checked >= 2


def test_synth_masks_join_their_face_group_and_stay_out_of_validation(tiny_dataset):
    from maskwatch.detectors import load_detector
    from maskwatch.settings import PHOTO
    from maskwatch.train.data import SYNTHETIC, load_samples, without_synthetic

    said = []
    s = load_samples(
        [str(tiny_dataset / "faces")], synth_masks=4, landmark_detector=load_detector(PHOTO.but(conf=0.3, threads=2)), log=said.append
    )
    made = [i for i, name in enumerate(s.sources) if SYNTHETIC in name]
    assert len(made) == 4 and all(s.classes[s.labels[i]] == "mask_worn_incorrectly" for i in made)
    for i in made:
        source = s.sources.index(s.sources[i].split(SYNTHETIC)[0])
        assert s.groups[i] == s.groups[source] and s.classes[s.labels[source]] == "without_mask"
    assert any("synthetic incorrectly worn masks" in m for m in said)
    kept = without_synthetic(s, np.arange(len(s)))
    assert len(kept) == len(s) - 4 and not set(made) & set(kept.tolist())


def test_train_cli_saves_a_pack_and_trains_from_it(tiny_dataset, tmp_path, capsys):
    pack = tmp_path / "crops.npz"
    assert main(["train", "--data", str(tiny_dataset / "faces"), "--save-pack", str(pack)]) == 0
    assert "crops" in capsys.readouterr().err and not (tmp_path / "mask_classifier.onnx").exists()
    out = tmp_path / "m.onnx"
    assert (
        main(
            [
                "train",
                "--pack",
                str(pack),
                *QUICK,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.stat().st_size > 0
    # Exactly one of --data and --pack; a file that is not a pack is one line.
    assert main(["train", "--out", str(out)]) == 2
    (tmp_path / "junk.npz").write_bytes(b"not a pack")
    assert main(["train", "--pack", str(tmp_path / "junk.npz"), "--out", str(out)]) == 2
    assert "is not a training pack" in capsys.readouterr().err
    # The pack's crops are cut already: another margin is refused, not silently ignored.
    assert main(["train", "--pack", str(pack), *QUICK, "--margin", "0.25", "--out", str(out)]) == 2
    assert "holds crops cut with --margin 0.15; this run asks for 0.25" in capsys.readouterr().err


def test_train_margin_is_recorded_and_used_at_inference(tiny_dataset, tmp_path):
    from maskwatch.classify import MaskClassifier

    out = tmp_path / "m25.onnx"
    args = ["train", "--data", str(tiny_dataset / "annotations.json"), *QUICK, "--margin", "0.25", "--lowres", "0.6", "--out", str(out)]
    assert main(args) == 0
    assert MaskClassifier(out).margin == 0.25
    config = json.loads((tmp_path / "m25_metrics.json").read_text())["config"]
    assert (config["margin"], config["lowres_p"]) == (0.25, 0.6)


def test_crops_are_kept_at_least_at_the_input_size(tiny_dataset):
    # A 160 px model trained on 128 px cached crops would only ever see upsampled faces.
    from maskwatch.train.data import STORE_SIZE, load_samples
    from maskwatch.train.engine import TrainConfig, load_training_samples

    assert load_samples([str(tiny_dataset / "faces")], log=lambda m: None).images.shape[1:3] == (STORE_SIZE, STORE_SIZE)
    big = load_training_samples(TrainConfig(data=[str(tiny_dataset / "faces")], input_size=160), log=lambda m: None)
    assert big.images.shape[1:3] == (160, 160)
