"""Door lines and zones on generated clips with known crossings (real faces walking across)."""

import json

import pytest

from maskwatch.cli import main
from maskwatch.video.lines import LineCounter

pytest.importorskip("trackers")


def run_walk(clip, tmp_path, *extra):
    summary, events = tmp_path / "s.json", tmp_path / "e.jsonl"
    rc = main(["video", "--source", str(clip), "--summary", str(summary), "--events", str(events), "--threads", "2", *extra])
    assert rc == 0
    return json.loads(summary.read_text()), [json.loads(x) for x in events.read_text().splitlines()]


def test_line_counts_each_crossing_by_direction_and_label(walk_clip, tmp_path):
    s, events = run_walk(walk_clip, tmp_path, "--line", "door=0.5,0,0.5,1", "--line", "back=0.5,1,0.5,0")
    door = s["lines"]["door"]
    # Drawn top to bottom: left-to-right is "in" (the masked face, twice), right-to-left "out".
    assert door["in"]["with_mask"] == 2 and door["in_total"] == 2
    assert door["out"]["without_mask"] == 1 and door["out_total"] == 1
    back = s["lines"]["back"]  # the same line drawn the other way: in and out swap
    assert back["in"] == door["out"] and back["out"] == door["in"]
    crossed = [e for e in events if e["event"] == "line_crossed" and e["line"] == "door"]
    assert [e["direction"] for e in crossed] == ["in", "out", "in"]
    assert all(20 <= e["frame"] % 100 <= 40 for e in crossed)  # at the middle of each walk
    assert s["people"] == 3


def test_zone_counts_people_in_it_and_their_time(walk_clip, tmp_path):
    # The right half of the frame: each walker spends about half a walk (30 frames, 1.2 s) in it.
    s, events = run_walk(walk_clip, tmp_path, "--zone", "right=0.5,0,1,0,1,1,0.5,1", "--detect-every", "2")
    z = s["zones"]["right"]
    assert z["entered"]["with_mask"] == 2 and z["entered"]["without_mask"] == 1 and z["entered_total"] == 3
    assert z["people_now"] == 0  # the clip has ended: nobody is left in it
    assert z["dwell_seconds"]["people"] == 3 and 0.6 <= z["dwell_seconds"]["mean"] <= 1.4
    kinds = [e["event"] for e in events if e.get("zone") == "right"]
    assert kinds.count("zone_entered") == 3 and kinds.count("zone_left") == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--line", "door"], "NAME=x1,y1,x2,y2"),
        (["--line", "door=0.5,0,0.5"], "give 4 numbers"),
        (["--line", "door=0.5,0,1.5,1"], "between 0 and 1"),
        (["--zone", "q=0,0,1,0"], "at least 3 points"),
        (["--line", "d=0,0,1,1", "--line", "d=0,1,1,0"], "given twice"),
    ],
)
def test_bad_lines_and_zones_are_one_line(walk_clip, argv, message, capsys):
    assert main(["video", "--source", str(walk_clip), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_face_missed_as_it_passes_the_line_still_crosses():
    """Seen left of the door, missed by the detector for 4 frames, seen again right of it: one
    crossing (supervision's LineZone alone forgets a track absent from 2 frames)."""
    import numpy as np

    from maskwatch.video.lines import LineCounter
    from maskwatch.video.tracking import Track

    line = LineCounter("door", (0.5, 0, 0.5, 1))
    t = Track(id=7, first_frame=0, first_time=0.0, last_frame=0, last_time=0.0, box=np.zeros(4), ema=np.array([0.9, 0.05, 0.05]))
    t.counted, t.status = True, "with_mask"
    events = []
    for f in range(16):
        if 6 <= f < 10:
            events += line.observe([], f, f / 25, frame_size=(640, 480))
            continue
        x = 100 + 10 * f if f < 6 else 400 + 10 * f
        t.box = np.array([x, 200, x + 60, 270], float)
        events += line.observe([t], f, f / 25, frame_size=(640, 480))
    t.final = "with_mask"
    line.end([t])
    assert [e["direction"] for e in events if e["event"] == "line_crossed"] == ["in"]
    assert line.counts()["in"]["with_mask"] == 1 and line.counts()["out"]["with_mask"] == 0


@pytest.mark.parametrize(
    "last_x, step, crossed",
    [
        (230, 20, ["in"]),  # walking right, lost with its centre 60 px (0.86 heights) short of the door
        (100, 20, []),  # lost 190 px (2.7 heights) short of it: too far to say
        (280, 0, []),  # standing still near it
    ],
)
def test_a_face_lost_just_before_the_line_crosses_when_its_track_ends(last_x, step, crossed):
    """A counted face seen walking at `step` px a frame up to `last_x` (box left edge; 60 x 70 px,
    door at x = 320) and never again: when its track ends, its crossing counts if it was under a
    face height from the line and walking into it (LOST_REACH), as one predicted crossing."""
    import numpy as np

    from maskwatch.video.lines import LineCounter
    from maskwatch.video.tracking import Track

    line = LineCounter("door", (0.5, 0, 0.5, 1))
    t = Track(id=3, first_frame=0, first_time=0.0, last_frame=0, last_time=0.0, box=np.zeros(4), ema=np.array([0.05, 0.9, 0.05]))
    t.counted, t.status = True, "without_mask"
    for f in range(8):
        x = last_x - step * (7 - f)
        t.box, t.last_frame, t.last_time = np.array([x, 200, x + 60, 270], float), f, f / 25
        t.velocity = np.array([step, 0, step, 0], float)
        assert line.observe([t], f, f / 25, frame_size=(640, 480)) == []
    for f in range(8, 20):  # lost: the tracker waits, then ends it
        line.observe([], f, f / 25, frame_size=(640, 480))
    t.final = "without_mask"
    events = line.end([t])
    assert [e["direction"] for e in events] == crossed
    assert all(e["predicted"] and e["label"] == "without_mask" and e["frame"] == 7 for e in events)
    assert line.counts()["in"]["without_mask"] == len(crossed) and line.counts()["out"]["without_mask"] == 0
    assert line.summary()["predicted"] == {"in": len(crossed), "out": 0} and line.summary()["in_total"] == len(crossed)


def _walk(line, t, xs, start=0, fps=25, y=200):
    """Feed `line` the track `t` at box left edges `xs` (60 x 70 px faces), one per frame from `start`."""
    import numpy as np

    events = []
    for k, x in enumerate(xs):
        f = start + k
        if x is None:
            events += line.observe([], f, f / fps, frame_size=(640, 480))
            continue
        step = (x - t.box[0]) / max(1, f - t.last_frame) if t.box.any() else 0.0
        t.box, t.last_frame, t.last_time = np.array([x, y, x + 60, y + 70], float), f, f / fps
        t.velocity = np.array([step, 0, step, 0], float)
        events += line.observe([t], f, f / fps, frame_size=(640, 480))
    return events


def _person(tid, first_frame=0, fps=25, label="with_mask"):
    import numpy as np

    from maskwatch.types import LABELS
    from maskwatch.video.tracking import Track

    ema = np.array([0.9 if l == label else 0.05 for l in LABELS])
    t = Track(
        id=tid,
        first_frame=first_frame,
        first_time=first_frame / fps,
        last_frame=first_frame,
        last_time=first_frame / fps,
        box=np.zeros(4),
        ema=ema,
    )
    t.counted, t.status, t.final = True, label, label
    return t


@pytest.mark.parametrize(
    "first_x, step, crossed",
    [
        (265, -10, ["out"]),  # first seen with its centre 25 px (0.36 heights) left of the door, walking left
        (300, 10, ["in"]),  # 10 px right of it, walking right
        (200, -10, []),  # first seen 90 px (1.3 heights) from it: too far to say
        (275, 10, []),  # first seen just left of it walking right: it crosses in view (LineZone's own crossing)
        (265, -1, []),  # drifting: 25 px a second is under a face height, not walking
    ],
)
def test_a_face_first_found_just_past_the_line_walking_away_crossed_it(first_x, step, crossed):
    """A counted face first seen under a face height past the door (x = 320), walking away from
    it for 12 frames: when its track ends it counts one crossing, found past the line. A face
    that crosses in view counts that crossing only, at the frame it happens."""
    line = LineCounter("door", (0.5, 0, 0.5, 1))
    t = _person(5)
    events = _walk(line, t, [first_x + step * k for k in range(12)])
    events += _walk(line, t, [None] * 10, start=12)
    events += line.end([t])
    ended = [e for e in events if e.get("predicted")]
    if first_x == 275:
        assert [e["direction"] for e in events] == ["in"] and not ended
        return
    assert [e["direction"] for e in ended] == crossed
    assert all(e["found_past_line"] and e["frame"] == 0 and e["label"] == "with_mask" for e in ended)
    s = line.summary()
    assert s["found_past_line"] == s["predicted"] == {d: crossed.count(d) for d in ("in", "out")}
    assert s["in_total"] + s["out_total"] == len(crossed)


@pytest.mark.parametrize("other_y, counted", [(200, 1), (350, 2)])
def test_a_face_found_past_the_line_where_a_track_just_crossed_is_that_person(other_y, counted):
    """A face seen crossing the door, lost 10 px past it, and a new track found walking on 30 px
    past it 0.24 s later: one crossing, the seen one (one person on two tracks). Found two face
    heights lower along the line, the new face is someone else and crossed too."""
    line = LineCounter("door", (0.5, 0, 0.5, 1))
    a, b = _person(1), _person(2, first_frame=14)
    events = _walk(line, a, [230 + 10 * k for k in range(8)])  # centre 260 -> 330: crosses at frame 6
    events += _walk(line, b, [320 + 10 * k for k in range(10)], start=14, y=other_y)
    events += line.end([a, b])
    assert [e["direction"] for e in events] == ["in"] * counted
    assert line.summary()["in_total"] == counted


def test_a_face_still_in_view_when_the_video_ends_is_no_predicted_crossing():
    import numpy as np

    from maskwatch.video.lines import LineCounter
    from maskwatch.video.tracking import Track

    line = LineCounter("door", (0.5, 0, 0.5, 1))
    t = Track(id=3, first_frame=0, first_time=0.0, last_frame=0, last_time=0.0, box=np.zeros(4), ema=np.array([0.9, 0.05, 0.05]))
    t.counted, t.status, t.velocity = True, "with_mask", np.array([20, 0, 20, 0], float)
    for f in range(8):
        x = 90 + 20 * f
        t.box, t.last_frame = np.array([x, 200, x + 60, 270], float), f
        line.observe([t], f, f / 25, frame_size=(640, 480))
    t.final = "with_mask"
    assert line.end([t]) == [] and line.counts()["in"]["with_mask"] == 0
