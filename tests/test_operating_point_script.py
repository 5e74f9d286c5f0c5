"""scripts/tune_operating_point.py scores candidate boxes against plain or corrected annotations."""

import json
from pathlib import Path

import numpy as np
from script_loader import load_script

SCRIPT = Path(__file__).parents[1] / "scripts" / "tune_operating_point.py"


def _dump(path: Path, ignore: list[bool]) -> None:
    # One photo, one annotated face; candidates: on the face, on a face nobody boxed, on nothing.
    # Columns: image id, box, detector score, face probability, three class probabilities.
    rows = np.array(
        [
            (1, 10, 10, 40, 40, 0.9, 0.9, 0.8, 0.1, 0.1),
            (1, 100, 10, 130, 40, 0.8, 0.8, 0.1, 0.8, 0.1),
            (1, 200, 10, 230, 40, 0.7, 0.7, 0.3, 0.4, 0.3),
        ],
        np.float64,
    )
    gts = np.array([(1, 11, 11, 41, 41, 0)], np.float64)
    np.savez(path, rows=rows, gts=gts, n_images=1, ignore=np.array(ignore, bool), about=json.dumps({}))


def test_a_box_on_a_face_nobody_boxed_is_neither_found_nor_false(tmp_path):
    mod = load_script(SCRIPT)
    _dump(tmp_path / "plain.npz", [False, False, False])
    _dump(tmp_path / "corrected.npz", [False, True, False])
    plain, corrected = mod.Dump(str(tmp_path / "plain.npz")), mod.Dump(str(tmp_path / "corrected.npz"))
    p = mod.stats(plain, plain.det * plain.face, 0.25)
    c = mod.stats(corrected, corrected.det * corrected.face, 0.25)
    assert p["recall"] == c["recall"] == 1.0
    assert p["precision"] == 1 / 3
    assert c["precision"] == 1 / 2
    # Above the false box's score only the found face and the ignored one are kept.
    assert mod.stats(corrected, corrected.det * corrected.face, 0.6)["precision"] == 1.0
    assert mod.stats(plain, plain.det * plain.face, 0.6)["precision"] == 1 / 2


def test_an_ignored_box_that_matches_an_annotated_face_still_counts_as_found(tmp_path):
    mod = load_script(SCRIPT)
    _dump(tmp_path / "d.npz", [True, False, False])  # flagged, but it is on the annotated face
    d = mod.Dump(str(tmp_path / "d.npz"))
    s = mod.stats(d, d.det * d.face, 0.25)
    assert s["recall"] == 1.0 and s["precision"] == 1 / 3


def _separable_dump(path: Path, photos: int = 60) -> None:
    # Per photo: three annotated faces (one bare), three candidates on them and two false ones.
    # The product of scores cannot tell them apart (drawn alike); only the box shape can: faces
    # are square, the false boxes twice as wide as tall.
    rng = np.random.default_rng(0)
    rows, gts = [], []
    for i in range(1, photos + 1):
        for k in range(3):
            x = 60 * k
            gts.append((i, x, 0, x + 30, 30, 1 if k == 0 else 0))
            rows.append((i, x, 0, x + 30, 30, rng.uniform(0.3, 1), rng.uniform(0.3, 1), 0.4, 0.4, 0.2))
        for k in range(2):
            x = 300 + 80 * k
            rows.append((i, x, 0, x + 60, 30, rng.uniform(0.3, 1), rng.uniform(0.3, 1), 0.4, 0.4, 0.2))
    np.savez(path, rows=np.array(rows), gts=np.array(gts, np.float64), n_images=photos, ignore=np.zeros(len(rows), bool), about="{}")


def test_the_ceiling_finds_what_a_rule_could_learn_and_the_product_misses(tmp_path):
    mod = load_script(SCRIPT)
    _separable_dump(tmp_path / "d.npz")
    d = mod.Dump(str(tmp_path / "d.npz"))
    assert list(mod.true_candidates(d)[:5]) == [1, 1, 1, 0, 0]
    learned = mod.learned_scores(d, folds=3, repeats=1)
    product = mod.best_precision(d, d.det * d.face, 0.92, 0.85)
    best = mod.best_precision(d, learned, 0.92, 0.85)
    assert product is not None and product[1]["precision"] < 0.7  # 3 faces in 5 boxes, drawn alike
    assert best is not None and best[1]["precision"] > 0.95 and best[1]["recall"] >= 0.92


def test_a_candidate_on_a_face_nobody_boxed_is_left_out_of_fitting(tmp_path):
    mod = load_script(SCRIPT)
    _dump(tmp_path / "d.npz", [False, True, False])
    assert list(mod.true_candidates(mod.Dump(str(tmp_path / "d.npz")))) == [1, -1, 0]
