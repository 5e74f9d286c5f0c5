"""benchmarks/bench_counting.py: its passers-by are nobody, stay off faces and hide no one."""

from pathlib import Path

import numpy as np
from script_loader import load_script

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "bench_counting.py"


def test_a_patch_touching_a_face_or_its_margin_is_not_clear():
    mod = load_script(SCRIPT)
    face = (100, 100, 140, 140)  # 40 px: margin 14 px
    assert mod.clear_of_faces((0, 0, 80, 80), [face])
    assert not mod.clear_of_faces((0, 0, 90, 90), [face])  # within the margin
    assert not mod.clear_of_faces((110, 110, 130, 130), [face])  # inside
    assert mod.clear_of_faces((0, 0, 80, 80), [])


def test_a_passer_by_is_drawn_behind_a_person_and_is_not_in_the_truth():
    mod = load_script(SCRIPT)
    face = np.full((60, 60, 3), 200, np.uint8)
    thing = np.full((60, 60, 3), 30, np.uint8)
    people = [(face, (10, 10, 50, 50), "with_mask"), (thing, (10, 10, 50, 50), None)]
    # Same row, same walk; the passer-by's "face" is the larger, so as a person it would be nearer.
    plans = [
        {"start": 0, "frames": 50, "left_to_right": True, "row": 0.3, "face_h": 80.0},
        {"start": 0, "frames": 50, "left_to_right": True, "row": 0.3, "face_h": 120.0},
    ]
    frames, truth = mod.render(people, plans, np.zeros((mod.H, mod.W, 3), np.uint8))
    seen = [t for frame in truth for t in frame]
    assert seen and {pid for pid, _, _ in seen} == {0}
    assert not any(hidden for _, _, hidden in seen)
    # Drawn, all the same: somewhere the passer-by's pixels show beside the person.
    assert any((f == 30).all(axis=2).any() for f in frames)
