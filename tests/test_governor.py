"""detect_scale = "auto": the site's governor lowers the detection scale only while live cameras
fall behind, and tries full size again once they keep up."""

import json
import threading
import time

import pytest

from maskwatch.video.governor import SCALE_STEPS, ScaleGovernor


def feed(g: ScaleGovernor, seconds: float, drop_share: float, t0: float, totals: list[int], fps: float = 50.0) -> list[float]:
    """Feed `seconds` of readings every 0.5 s in which `drop_share` of the due frames were late."""
    changes = []
    t = t0
    while t < t0 + seconds:
        t += 0.5
        due = fps * 0.5
        totals[0] += round(due * (1 - drop_share))
        totals[1] += round(due * drop_share)
        new = g.update(t, *totals)
        if new is not None:
            changes.append(new)
    return changes


def test_falling_behind_steps_down_one_rung_per_settled_window_to_the_floor():
    g = ScaleGovernor()
    totals = [0, 0]
    changes = feed(g, 60, 0.3, 0.0, totals)
    assert changes == list(SCALE_STEPS[1:])  # one rung at a time, never below the ladder's end
    assert g.scale == 0.5
    # Steps waited out the transient of each change: at least settle_s apart.
    g2, totals2 = ScaleGovernor(), [0, 0]
    assert len(feed(g2, 7.0, 0.3, 0.0, totals2)) == 2  # 2 s, then settled at 6 s


def test_keeping_up_with_a_few_late_frames_changes_nothing():
    g = ScaleGovernor()
    assert feed(g, 120, 0.02, 0.0, [0, 0]) == []  # under behind_share: jitter, not overload
    assert g.scale == 1.0


def test_it_tries_the_rung_above_after_a_quiet_spell_and_waits_longer_when_that_fails():
    g = ScaleGovernor()
    totals = [0, 0]
    assert feed(g, 2.5, 0.3, 0.0, totals) == [0.875]
    quiet = feed(g, g.quiet_s + 2, 0.0, 2.5, totals)
    assert quiet == [1.0]  # the probe upward
    t = 2.5 + g.quiet_s + 2
    assert feed(g, 4.5, 0.3, t, totals) == [0.875]  # full size fell behind again: back down
    t += 4.5
    # The next probe waits twice as long: nothing within quiet_s, a probe within 2 x quiet_s.
    assert feed(g, g.quiet_s + 1, 0.0, t, totals) == []
    assert feed(g, g.quiet_s + 2, 0.0, t + g.quiet_s + 1, totals) == [1.0]


def test_an_overloaded_live_site_lowers_its_scale_to_where_it_keeps_up(tmp_path, monkeypatch, examples):
    pytest.importorskip("trackers")
    from mjpeg_server import MjpegServer

    from maskwatch.clips import pan_frames
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector
    from maskwatch.settings import VIDEO
    from maskwatch.video import site as site_mod

    find_faces, scales = Detector.find_faces, []

    def slow(self, image, scale=1.0):
        # Detection as costly as on a machine short of cores: 0.35 s a frame at full size, so a
        # camera at 5 fps falls behind at 1 and keeps up from 0.75 down (cost ~ scale squared).
        scales.append(scale)
        time.sleep(0.35 * scale * scale)
        return find_faces(self, image, scale)

    monkeypatch.setattr(Detector, "find_faces", slow)
    # The same rules on a faster clock, so the test takes seconds.
    fast = lambda: ScaleGovernor(window_s=0.5, settle_s=1.0, quiet_s=60.0)  # noqa: E731
    monkeypatch.setattr(site_mod, "ScaleGovernor", fast)
    frames = pan_frames(read_image(examples / "street_717.jpg"), 25)
    server = MjpegServer(frames, fps=25, max_seconds=30).start()
    path = tmp_path / "site.toml"
    path.write_text(f'[[cameras]]\nname = "live"\nsource = "{server.url}"\ndetect_fps = 5\ndetect_scale = "auto"\n')
    spec = site_mod.load_site(path)
    assert spec.cameras[0].auto_scale and spec.cameras[0].detect_scale == 1.0
    stop, logs = threading.Event(), []
    timer = threading.Timer(9.0, stop.set)
    timer.start()
    try:
        summary = site_mod.run_site(Detector(VIDEO.but(threads=2)), spec, stop=stop, log=logs.append)
    finally:
        timer.cancel()
        server.stop()
    cam = summary["cameras"]["live"]
    assert cam["detect_scale"] == "auto"
    assert cam["health"]["detect_scale"] <= 0.75  # it stepped down to where the camera keeps up
    assert scales[0] == 1.0 and min(scales) == cam["health"]["detect_scale"]
    assert any('detect_scale 0.875 for live (detect_scale = "auto")' in m for m in logs)
    json.dumps(summary)  # the summary stays plain JSON
