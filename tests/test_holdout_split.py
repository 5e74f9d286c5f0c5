"""The fit/holdout split that the detector and classifier choices were made on (scripts/holdout_split.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from script_loader import load_script

SCRIPT = Path(__file__).parents[1] / "scripts" / "holdout_split.py"
SPLIT = Path(__file__).parents[2] / "shared" / "data" / "kaggle-853" / "split.json"


def test_near_duplicates_share_a_group():
    mod = load_script(SCRIPT)
    assert mod.group_of("images/maksssksksss13.jpg") == mod.group_of("images/maksssksksss737.jpg")
    assert mod.group_of("images/maksssksksss13.jpg") != mod.group_of("images/maksssksksss14.jpg")
    assert mod.group_of("images/maksssksksss130.jpg") != mod.group_of("images/maksssksksss13.jpg")


@pytest.mark.skipif(not SPLIT.is_file(), reason="needs ../shared/data")
def test_split_covers_train_only_once_and_keeps_pairs_together(tmp_path):
    out = tmp_path / "h.json"
    subprocess.run([sys.executable, str(SCRIPT), str(SPLIT), str(out)], check=True, capture_output=True)
    parts = json.loads(out.read_text())
    train, test = json.loads(SPLIT.read_text())["train"], json.loads(SPLIT.read_text())["test"]
    fit, hold = set(parts["fit"]), set(parts["holdout"])
    assert fit | hold == set(train) and not fit & hold and not (fit | hold) & set(test)
    assert 0.15 < len(hold) / len(train) < 0.35
    mod = load_script(SCRIPT)
    pairs_in_train = 0
    for a, b in mod.NEAR_DUPLICATES:
        names = [f"images/maksssksksss{n}.jpg" for n in (a, b)]
        if all(n in train for n in names):
            pairs_in_train += 1
            assert (names[0] in hold) == (names[1] in hold)
    assert pairs_in_train > 5
