"""Frames sampled at a camera's detect_fps: the rule, and a file source that skips converting the rest."""

import cv2
import numpy as np
import pytest

from maskwatch.video.rate import RateSampler
from maskwatch.video.sources import FrameSource


def test_five_of_every_25_frames_even_with_jitter():
    rng = np.random.default_rng(0)
    exact = [k / 25 for k in range(250)]
    jittered = [t + rng.uniform(-0.008, 0.008) for t in exact]  # network arrival jitter
    for times in (exact, jittered):
        s = RateSampler(5)
        due = [k for k, t in enumerate(times) if s.due(t)]
        assert len(due) == 50
        assert np.diff(due).min() >= 4 and np.diff(due).max() <= 6


def test_a_gap_restarts_the_schedule_at_the_next_frame():
    s = RateSampler(5)
    assert [s.due(t) for t in (0.0, 0.1, 0.2, 3.0, 3.1, 3.2)] == [True, False, True, True, False, True]
    with pytest.raises(ValueError):
        RateSampler(0)


def test_a_file_source_converts_only_the_frames_due(tmp_path):
    path = tmp_path / "c.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for k in range(50):
        w.write(np.full((48, 64, 3), k * 5, np.uint8))
    w.release()
    src = FrameSource(str(path), sample_fps=5)
    frames = list(src)
    src.close()
    assert [f.index for f in frames] == list(range(0, 50, 5))
    assert [round(f.timestamp, 3) for f in frames] == [k / 5 for k in range(10)]
    # the right frames, not just the right count: frame k was painted k * 5
    assert [round(f.image.mean() / 5) for f in frames] == list(range(0, 50, 5))
    assert (src.stats.frames_read, src.stats.frames_skipped) == (50, 40)
    full = FrameSource(str(path))
    assert len(list(full)) == 50 and full.stats.frames_skipped == 0
    full.close()
