import json

import numpy as np
import pytest

from maskwatch.cli import main
from maskwatch.datasets import load_annotations
from maskwatch.evaluate import evaluate
from maskwatch.types import LABELS, Face


class OracleDetector:
    """Returns the annotated boxes with their true labels (or nothing): the evaluator's bounds."""

    def __init__(self, annotations, empty=False, wrong_label=False):
        self.truth = {str(i.path): i.boxes for i in load_annotations(annotations)}
        self.empty, self.wrong = empty, wrong_label
        self._images = iter(self.truth.values())

    def detect(self, image):
        boxes = next(self._images)
        if self.empty:
            return []
        out = []
        for x1, y1, x2, y2, label in boxes:
            if self.wrong:
                label = LABELS[(LABELS.index(label) + 1) % 3]
            probs = {l: (1.0 if l == label else 0.0) for l in LABELS}
            out.append(Face((x1, y1, x2, y2), 1.0, label, 1.0, probs))
        return out


def test_perfect_and_empty_detectors_bound_the_score(examples):
    ann = examples / "annotations.json"
    perfect = evaluate(OracleDetector(ann), str(ann), progress=False)
    assert perfect.n_boxes == 32
    assert perfect.ap50 == {l: pytest.approx(1.0) for l in LABELS}
    assert sum(f for f, _ in perfect.recall_by_size.values()) == 32
    empty = evaluate(OracleDetector(ann, empty=True), str(ann), progress=False)
    assert empty.map50 == 0.0
    wrong = evaluate(OracleDetector(ann, wrong_label=True), str(ann), progress=False)
    assert wrong.map50 == pytest.approx(0.0)
    assert np.trace(np.array(wrong.classification)) == 0
    # Every loss of the wrong-label detector is a label: fixing them gives it all back.
    assert wrong.map50_without_error == pytest.approx({"wrong_labels": 1.0, "false_boxes": 0.0, "both": 1.0})
    assert perfect.map50_without_error == pytest.approx({"wrong_labels": 1.0, "false_boxes": 1.0, "both": 1.0})
    assert empty.map50_without_error == {"wrong_labels": 0.0, "false_boxes": 0.0, "both": 0.0}


def test_evaluate_cli_on_examples(examples, tmp_path, capsys):
    rc = main(
        [
            "evaluate",
            "--annotations",
            str(examples / "annotations.json"),
            "--json",
            str(tmp_path / "m.json"),
            "--plot",
            str(tmp_path / "pr.png"),
            "--reliability",
            str(tmp_path / "rel.png"),
            "--threads",
            "2",
        ]
    )
    assert rc == 0 and (tmp_path / "rel.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "mask_weared_incorrect is scored as mask_worn_incorrectly" in out
    m = json.loads((tmp_path / "m.json").read_text())
    assert 0.5 < m["ap50"]["with_mask"] <= 1.0
    assert m["recall_iou50_by_height"]["20-31"]["total"] > 0
    assert m["counts"]["photos"] == 5 and m["counts"]["close_ups"] == 1
    assert sum(v["total"] for v in m["recall_iou50_by_height_share"].values()) == 32
    assert 0 <= m["calibration"]["ece"] < 0.5 and m["calibration"]["faces"] >= 25
    lost = m["map50_without_error"]
    assert m["map50"] <= lost["wrong_labels"] <= lost["both"] and m["map50"] <= lost["false_boxes"] <= lost["both"] <= 1.0
    assert (tmp_path / "pr.png").stat().st_size > 0


def test_split_part_selection_and_errors(kaggle, capsys):
    test = load_annotations(kaggle / "annotations.json", kaggle / "split.json", "test")
    train = load_annotations(kaggle / "annotations.json", kaggle / "split.json", "train")
    assert len(test) == 266 and len(train) == 587
    assert not {i.key for i in test} & {i.key for i in train}
    assert (
        main(["evaluate", "--annotations", str(kaggle / "annotations.json"), "--split", str(kaggle / "split.json"), "--part", "nope"]) == 2
    )
    assert "has no part 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_pipeline_accuracy_on_kaggle_test(kaggle, detector):
    """The shipped pipeline on the held-out kaggle-853 test part: a floor well under the measured figures."""
    r = evaluate(detector, str(kaggle / "annotations.json"), str(kaggle / "split.json"), "test", progress=False)
    assert r.ap50["with_mask"] >= 0.75
    assert r.ap50["without_mask"] >= 0.70
    assert r.map50 >= 0.60


def test_bootstrap_interval_brackets_the_estimate():
    from maskwatch.evaluate import bootstrap_ap50, coco_ap50

    # 60 photos, one face of each class in turn; every 4th photo's face gets a confident wrong
    # label, so AP is below 1 and varies with which photos are drawn.
    gts, dets = [], []
    for i in range(1, 61):
        c = i % 3
        gts.append((i, 10, 10, 50, 50, c))
        dets.append((i, 10, 10, 50, 50, (c + 1) % 3 if i % 4 == 0 else c, 0.9 if i % 4 == 0 else 0.5 + i / 200))
    point, _ = coco_ap50(60, gts, dets)
    ci = bootstrap_ap50(60, gts, dets, resamples=60, seed=1)
    assert set(ci) == {*LABELS, "mAP50"}
    for label in LABELS:
        lo, hi = ci[label]
        assert lo <= point[label] <= hi and hi - lo > 0.05
    assert ci == bootstrap_ap50(60, gts, dets, resamples=60, seed=1)  # seeded: repeatable
    perfect = [(i, 10, 10, 50, 50, i % 3, 0.9) for i in range(1, 61)]
    assert bootstrap_ap50(60, gts, perfect, resamples=20)["mAP50"] == pytest.approx((1.0, 1.0))

    from maskwatch.evaluate import paired_map50_difference

    better = paired_map50_difference(60, gts, dets, perfect, resamples=40)
    assert 0 < better["low"] <= better["high"] and better["b_ahead"] == 1.0
    same = paired_map50_difference(60, gts, dets, dets, resamples=40)
    assert same == {"low": 0.0, "high": 0.0, "b_ahead": 0.0}


def test_evaluate_cli_bootstrap(examples, tmp_path, capsys):
    rc = main(
        [
            "evaluate",
            "--annotations",
            str(examples / "annotations.json"),
            "--json",
            str(tmp_path / "m.json"),
            "--plot",
            "",
            "--threads",
            "2",
            "--bootstrap",
            "40",
        ]
    )
    assert rc == 0
    assert "bootstrap resamples of the photos" in capsys.readouterr().out
    m = json.loads((tmp_path / "m.json").read_text())
    lo, hi = m["ap50_ci95"]["mAP50"]
    assert 0 <= lo <= hi <= 1 and m["bootstrap_resamples"] == 40
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--annotations", str(examples / "annotations.json"), "--bootstrap", "-3"])
    assert exc.value.code == 2
    assert "must be 0 or more" in capsys.readouterr().err


class SplittingDetector(OracleDetector):
    """The oracle, plus a second box on each face's upper left quarter: a face split into parts."""

    def detect(self, image):
        faces = super().detect(image)
        parts = [Face((x1, y1, (x1 + x2) / 2, (y1 + y2) / 2), 0.9, f.label, 1.0, f.probs) for f in faces for x1, y1, x2, y2 in [f.box]]
        return faces + parts


def test_counts_catch_split_faces(examples):
    ann = examples / "annotations.json"
    perfect = evaluate(OracleDetector(ann), str(ann), progress=False)
    c = perfect.counts
    assert (c.photos, c.right_count, c.duplicate_photos, c.duplicate_boxes) == (5, 5, 0, 0)
    assert (c.close_ups, c.close_ups_one_box) == (1, 1)  # closeup_563.jpg
    split = evaluate(SplittingDetector(ann), str(ann), progress=False).counts
    assert (split.right_count, split.duplicate_photos, split.duplicate_boxes) == (0, 5, 32)
    assert (split.close_ups, split.close_ups_one_box) == (1, 0)
    rel = perfect.recall_by_relative_size
    assert sum(t for _, t in rel.values()) == 32 and rel[">=35%"] == (1, 1)


@pytest.mark.parametrize(
    "entry",
    [
        {"width": 10, "height": 10, "boxes": []},
        {"file": "a.jpg", "width": 10, "height": 10},
        {"file": "a.jpg", "width": 10, "height": 10, "boxes": [[1, 2, "x"]]},
    ],
)
def test_malformed_annotation_entry_is_one_line(tmp_path, capsys, entry):
    ann = tmp_path / "annotations.json"
    ann.write_text(json.dumps({"images": [entry]}))
    assert main(["evaluate", "--annotations", str(ann), "--plot", ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "image entry 0 is malformed" in err[0]


def test_compare_puts_models_side_by_side_with_paired_intervals(examples, tmp_path, capsys):
    out = tmp_path / "cmp.json"
    rc = main(
        [
            "evaluate",
            "--annotations",
            str(examples / "annotations.json"),
            "--compare",
            "shipped",
            "shipped@widerface@single",
            "--bootstrap",
            "30",
            "--json",
            str(out),
            "--threads",
            "2",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "shipped@widerface@single" in text and "[95 % paired]" in text
    models = json.loads(out.read_text())["models"]
    first, second = models["shipped"], models["shipped@widerface@single"]
    assert first["vs_first"] == {}
    d = second["vs_first"]["mAP50"]
    assert d["diff"] == pytest.approx(second["map50"] - first["map50"]) and d["low"] <= d["high"]
    assert set(second["vs_first"]) == {*LABELS, "mAP50"}


def test_compare_needs_two_models_and_known_modes(examples, capsys):
    ann = str(examples / "annotations.json")
    assert main(["evaluate", "--annotations", ann, "--compare", "shipped"]) == 2
    assert main(["evaluate", "--annotations", ann, "--compare", "shipped", "shipped@finetuned@double"]) == 2
    err = capsys.readouterr().err
    assert "at least two models" in err and "can only be 'single'" in err


def test_corrections_ignore_unboxed_faces_and_fix_labels(examples, tmp_path, capsys):
    from maskwatch.datasets import Corrections

    # Annotations that leave out two faces and get one label wrong: the oracle still finds the
    # two, as false boxes, and labels the third right, until the corrections say so.
    full = json.loads((examples / "annotations.json").read_text())
    for img in full["images"]:
        img["file"] = str(examples / img["file"])
    partial = json.loads(json.dumps(full))
    left_out = {img["file"]: [img["boxes"].pop(0)[:4]] for img in partial["images"][:2]}
    wrong = partial["images"][2]["boxes"][0]
    right_label = wrong[4]
    wrong[4] = "without_mask" if right_label != "without_mask" else "with_mask"
    (tmp_path / "full.json").write_text(json.dumps(full))
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    plain = evaluate(OracleDetector(tmp_path / "full.json"), str(tmp_path / "partial.json"), progress=False)
    assert plain.map50 < 1 and plain.corrected is None
    # An annotated face on the unboxed list as well keeps its match: only unmatched detections are dropped.
    unboxed = {f: boxes + [partial["images"][0]["boxes"][0][:4]] for f, boxes in left_out.items()}
    fix = Corrections(unboxed, {partial["images"][2]["file"]: [(tuple(wrong[:4]), right_label)]})
    fair = evaluate(OracleDetector(tmp_path / "full.json"), str(tmp_path / "partial.json"), progress=False, corrections=fix)
    assert fair.map50 == pytest.approx(1.0) and fair.corrected == (2, 4, 1) and fair.face_precision == 1.0
    doc = {"images": [{"file": f, "unboxed": b} for f, b in left_out.items()]}
    doc["images"].append({"file": partial["images"][2]["file"], "relabel": [[*wrong[:4], right_label]]})
    (tmp_path / "fix.json").write_text(json.dumps(doc))
    rc = main(["evaluate", "--annotations", str(tmp_path / "partial.json"), "--corrections", str(tmp_path / "fix.json"), "--plot", ""])
    assert rc == 0 and "1 labels corrected; 2 faces the annotations leave out are ignored" in capsys.readouterr().out
    # A malformed file, or a label correction that fits no annotated box, is one line.
    (tmp_path / "bad.json").write_text(json.dumps({"images": [{"file": "a.jpg", "unboxed": [[1, 2]]}]}))
    (tmp_path / "stray.json").write_text(
        json.dumps({"images": [{"file": partial["images"][2]["file"], "relabel": [[0, 0, 5, 5, "with_mask"]]}]})
    )
    for bad, message in (("bad.json", "is not a corrections file"), ("stray.json", "matches no annotated face there")):
        assert main(["evaluate", "--annotations", str(tmp_path / "partial.json"), "--corrections", str(tmp_path / bad), "--plot", ""]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]


def test_compare_scores_against_corrections_and_says_so(examples, example_annotations, tmp_path, capsys):
    x1, y1, x2, y2, label = example_annotations["street_717.jpg"][0]
    other = "without_mask" if label != "without_mask" else "with_mask"
    fix = tmp_path / "fix.json"
    fix.write_text(json.dumps({"images": [{"file": "street_717.jpg", "relabel": [[x1, y1, x2, y2, other]]}]}))
    out = tmp_path / "cmp.json"
    ann = str(examples / "annotations.json")
    args = ["evaluate", "--annotations", ann, "--compare", "shipped", "shipped", "--bootstrap", "10", "--threads", "2", "--json", str(out)]
    assert main([*args, "--corrections", str(fix)]) == 0
    models = json.loads(out.read_text())["models"]
    assert models["shipped"]["corrections"] == {"detections_ignored": 0, "unboxed_faces_listed": 0, "labels_corrected": 1}
    assert main(args) == 0
    assert "corrections" not in json.loads(out.read_text())["models"]["shipped"]


def test_operating_point_counts_only_the_boxes_a_user_sees():
    from maskwatch.evaluate import operating_point

    # Photo 1: a bare 12-px face found at 0.2 (under the default), a masked 40-px face at 0.9 and
    # a false box at 0.3; photo 2: an incorrectly worn mask at 70 px, found twice at 0.8 and 0.6.
    gts = [(1, 0, 0, 10, 12, 1), (1, 50, 50, 80, 90, 0), (2, 0, 0, 60, 70, 2)]
    found = [
        (1, (0, 0, 10, 12), 0.2),
        (1, (50, 50, 80, 90), 0.9),
        (1, (200, 200, 220, 220), 0.3),
        (2, (0, 0, 60, 70), 0.8),
        (2, (1, 1, 60, 70), 0.6),
    ]
    op = operating_point(gts, found, 0.25)
    assert (op.kept, op.true) == (4, 2) and op.precision == 0.5
    assert op.recall() == pytest.approx(2 / 3)
    assert (op.recall("without_mask"), op.recall("with_mask"), op.recall("mask_worn_incorrectly")) == (0.0, 1.0, 1.0)
    assert (op.recall("<20"), op.recall("32-63"), op.recall(">=64")) == (0.0, 1.0, 1.0)
    assert op.to_dict()["recall_20-31"] is None  # no such face: no figure, not NaN in the JSON
    low = operating_point(gts, found, 0.1)
    assert (low.recall("without_mask"), low.kept) == (1.0, 5)


def test_evaluate_reports_the_photo_default_beside_the_ap(examples):
    ann = examples / "annotations.json"
    perfect = evaluate(OracleDetector(ann), str(ann), progress=False)
    op = perfect.operating_point
    assert op.recall() == 1.0 and op.precision == 1.0 and op.kept == 32
    assert "at the photo default" in perfect.format() and perfect.to_dict()["operating_point"]["recall"] == 1.0
