import numpy as np
import pytest

from maskwatch.detectors import FaceBoxes
from maskwatch.video.counting import PeopleCounter
from maskwatch.video.tracking import FaceTracker as _Tracker
from maskwatch.video.tracking import TrackerConfig

WITH, WITHOUT, INCORRECT = [0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]


class FaceTracker:
    """The tracker with the people counter fed as video feeds it (video.camera): tracks seen each
    frame, then the tracks that ended; events collected."""

    def __init__(self, config=None, fps=30.0):
        self.tracker = _Tracker(fps=fps, config=config)
        self.counter = PeopleCounter()
        self.events = []

    def update(self, found, classify, frame, ts, image=None):
        faces = self.tracker.update(found, classify, frame, ts, image)
        self.events += self.counter.observe(self.tracker.observed, frame, ts)
        self.events += self.counter.end(self.tracker.pop_ended())
        return faces

    def finish(self):
        self.tracker.finish()
        self.events += self.counter.end(self.tracker.pop_ended())

    def __getattr__(self, name):  # carry, people, counts, per_minute, _bt
        target = self.counter if hasattr(self.counter, name) else self.tracker
        return getattr(target, name)

    def __setattr__(self, name, value):
        if name == "_bt":
            setattr(self.tracker, name, value)
        else:
            super().__setattr__(name, value)


def boxes(*xs):
    xyxy = np.array([[x, 100, x + 60, 170] for x in xs], np.float32).reshape(-1, 4)
    return FaceBoxes(xyxy, np.full(len(xs), 0.95, np.float32), np.zeros((len(xs), 5, 2), np.float32))


def run(tracker, frames):
    """frames: list of [(x, probs), ...] per frame; a face moves 2 px per frame."""
    out = []
    for i, faces in enumerate(frames):
        fb = boxes(*[x + 2 * i for x, _ in faces])
        probs = np.array([p for _, p in faces], np.float32).reshape(-1, 3)
        out.append(tracker.update(fb, lambda rows, probs=probs: probs[rows], i, i / 30))
    return out


def test_one_bad_frame_does_not_flip_a_label():
    t = FaceTracker(config=TrackerConfig(classify_every=1))
    frames = [[(100, WITH)]] * 10 + [[(100, WITHOUT)]] + [[(100, WITH)]] * 10
    run(t, frames)
    kinds = [e["event"] for e in t.events]
    assert kinds == ["appear"] and t.events[0]["label"] == "with_mask"


def test_a_lasting_change_is_an_event():
    t = FaceTracker(config=TrackerConfig(classify_every=1))
    run(t, [[(100, WITH)]] * 10 + [[(100, INCORRECT)]] * 10)
    changes = [e for e in t.events if e["event"] == "change"]
    assert len(changes) == 1 and changes[0]["from"] == "with_mask" and changes[0]["to"] == "mask_worn_incorrectly"


def test_a_track_worn_incorrectly_gets_its_reason_from_the_part_check():
    """classify may give (probs, part answers): the track averages the nose and mouth answers
    of the frames the part check saw, and its faces and events say why it is worn incorrectly."""
    t = FaceTracker(config=TrackerConfig(classify_every=1))
    faces = []
    for i in range(12):
        fb = boxes(100 + 2 * i, 300 + 2 * i)
        probs = np.array([INCORRECT, INCORRECT], np.float32)
        # nose bare, mouth covered on the first face; the second not checked (too small: NaN)
        parts = np.array([[0.1, 0.9, 0.1, 0.1, 0.8], [np.nan] * 5], np.float32)
        faces = t.update(fb, lambda rows, p=probs, q=parts: (p[rows], q[rows]), i, i / 30)
    assert sorted((f.reason or "") for f in faces) == ["", "nose uncovered"]
    appear = [e for e in t.events if e["event"] == "appear"]
    assert sorted(e.get("reason", "") for e in appear) == ["", "nose uncovered"]
    # A label other than incorrect has no reason, whatever the part check said.
    t2 = FaceTracker(config=TrackerConfig(classify_every=1))
    for i in range(8):
        out = t2.update(
            boxes(100 + 2 * i), lambda rows: (np.array([WITH], np.float32)[rows], np.array([[0.1, 0.9, 0.1, 0.1, 0.8]])[rows]), i, i / 30
        )
    assert out[0].reason is None and all("reason" not in e for e in t2.events)


def test_tracks_end_and_counts_add_up():
    t = FaceTracker(config=TrackerConfig(lost_frames=5, classify_every=1))
    # two people for 10 frames, then only the first one for 10 more
    run(t, [[(100, WITH), (400, WITHOUT)]] * 10 + [[(100, WITH)]] * 10)
    ends = [e for e in t.events if e["event"] == "end"]
    assert len(ends) == 1 and ends[0]["label"] == "without_mask"
    t.finish()
    assert t.counts() == {"people": 2, "with_mask": 1, "without_mask": 1, "mask_worn_incorrectly": 0, "compliance_rate": 0.5}
    assert [e["event"] for e in t.events].count("end") == 2
    assert t.per_minute() == [
        {"minute": 0, "people": 2, "with_mask": 1, "without_mask": 1, "mask_worn_incorrectly": 0, "compliance_rate": 0.5}
    ]


def test_settled_tracks_are_classified_every_nth_frame():
    t = FaceTracker(config=TrackerConfig(classify_every=3))
    calls = []
    for i in range(30):
        fb = boxes(100 + 2 * i)
        t.update(fb, lambda rows: calls.append(len(rows)) or np.array([WITH] * len(rows), np.float32), i, i / 30)
    assert 8 <= sum(calls) <= 16  # not 30: each settled track is re-checked every 3rd frame


def test_carry_moves_boxes_on():
    t = FaceTracker(config=TrackerConfig(classify_every=1))
    run(t, [[(100, WITH)]] * 8)
    carried = t.carry(10, 10 / 30)
    assert len(carried) == 1 and carried[0].label == "with_mask" and carried[0].track_id is not None
    assert carried[0].box[0] == pytest.approx(100 + 2 * 10, abs=1.5)  # kept moving 2 px per frame


def test_counts_come_from_totals():
    # A camera that has seen a million people: counts are read from per-label totals.
    tr = PeopleCounter()
    tr._ended_counts.update({"with_mask": 10**6, "mask_worn_incorrectly": 5})
    c = tr.counts()
    assert c["people"] == 10**6 + 5 and c["with_mask"] == 10**6 and c["without_mask"] == 0
    assert c["compliance_rate"] == round(10**6 / (10**6 + 5), 4)


class _NewIdAfterGap:
    """Stands in for ByteTrack where it fails: the face that comes back after `gap` gets a new id."""

    def __init__(self, gap_end: int):
        self.gap_end, self.frame = gap_end, 0

    def update(self, dets, timestamp):
        self.frame += 1
        dets.tracker_id = np.full(len(dets), 1 if self.frame <= self.gap_end else 2)
        return dets


def _walk(colour_of, relink=True, gap=range(12, 24), n=40, step=8, stop_at=None):
    """One face walking right `step` px per frame (standing still from frame `stop_at`), unseen
    during `gap`; `colour_of(i)` paints it, so re-linking can compare looks. People counted."""
    tracker = FaceTracker(config=TrackerConfig(classify_every=1, relink_frames=30 if relink else 0))
    tracker._bt = _NewIdAfterGap(gap.stop)
    for i in range(n):
        image = np.full((480, 640, 3), 90, np.uint8)
        x = 40 + step * (min(i, stop_at) if stop_at else i)
        if i in gap:
            fb = boxes()
        else:
            fb = boxes(x)
            image[100:170, x : x + 60] = colour_of(i)
            image[120:130, x + 10 : x + 50] = (20, 20, 20)  # eyes: some texture for the histogram
        tracker.update(fb, lambda rows: np.array([WITH] * len(rows), np.float32), i, i / 25, image)
    tracker.finish()
    return tracker.counts()["people"]


def test_a_face_that_comes_back_on_its_path_is_one_person():
    same = lambda i: (40, 160, 220)  # noqa: E731
    assert _walk(same, relink=False) == 2  # what ByteTrack alone counts
    assert _walk(same) == 1


def test_someone_else_is_not_relinked():
    # Looks different, or is somewhere the lost face could not have walked to.
    assert _walk(lambda i: (40, 160, 220) if i < 12 else (200, 60, 40)) == 2
    assert _walk(lambda i: (40, 160, 220), stop_at=12) == 2  # stood still: 12 frames x 8 px off its path


def test_a_person_is_counted_under_the_label_seen_most():
    # 20 frames with a mask, then 10 with it pulled down: the live status changes, but the person
    # is counted as with_mask ("mean"), or as they were last seen ("status").
    frames = [[(100, WITH)]] * 20 + [[(100, INCORRECT)]] * 10
    for final, counted in (("mean", "with_mask"), ("status", "mask_worn_incorrectly")):
        t = FaceTracker(config=TrackerConfig(classify_every=1, final_label=final))
        run(t, frames)
        assert list(t.people().values()) == ["mask_worn_incorrectly"]  # live: as seen now
        t.finish()
        assert t.counts()[counted] == 1 and t.counts()["people"] == 1
        assert [e for e in t.events if e["event"] == "end"][0]["label"] == counted


def test_a_lost_face_is_predicted_at_its_last_size():
    # A face shrinks as someone nearer covers it, then vanishes for 20 frames: where it should
    # come back keeps its size (a shrinking box extrapolated over the gap ends with no height,
    # and the face coming out was then never re-linked).
    from maskwatch.video.tracking import Track, predicted_box

    t = Track(1, 0, 0.0, 10, 0.4, np.array([200, 100, 260, 170], float), np.array(WITH))
    t.velocity = np.array([8.0, 2.0, 4.0, -2.0])  # left edge catching up, bottom edge rising
    box = predicted_box(t, 20)
    assert box[3] - box[1] == pytest.approx(70) and box[2] - box[0] == pytest.approx(60)
    assert (box[0] + box[2]) / 2 == pytest.approx(230 + 20 * 6)  # the centre moved at 6 px per frame


def test_a_face_is_labelled_before_it_counts_and_a_short_track_never_counts():
    t = FaceTracker(config=TrackerConfig(classify_every=1, label_after=3, min_observations=6, lost_frames=5))
    out = run(t, [[(100, WITH)]] * 5)
    statuses = [f.label for faces in out for f in faces]  # ByteTrack reports a face from its 2nd frame
    assert statuses == [None, None, "with_mask", "with_mask"]  # labelled from its 3rd classified frame
    assert t.people() == {} and not t.events  # not yet a person
    for i in range(5, 15):  # gone: a false track, or someone barely seen
        t.update(boxes(), lambda rows: np.zeros((0, 3), np.float32), i, i / 30)
    t.finish()
    assert t.counts()["people"] == 0 and not t.events


def test_class_weights_divide_out_a_rare_class_prior():
    # An unsure incorrectly worn mask: the classifier leans to with_mask because it drew that class
    # ~4x more often in training. Weighted by 1 / prior it is counted as what it most likely is.
    unsure = [0.62, 0.08, 0.30]
    plain = FaceTracker(config=TrackerConfig(classify_every=1))
    run(plain, [[(100, unsure)]] * 12)
    plain.finish()
    weighted = FaceTracker(config=TrackerConfig(classify_every=1, class_weights=(1.0, 1.4, 4.0)))
    shown = run(weighted, [[(100, unsure)]] * 12)
    weighted.finish()
    assert plain.counts()["people"] == 1 and plain.counts()["with_mask"] == 1
    assert weighted.counts()["people"] == 1 and weighted.counts()["mask_worn_incorrectly"] == 1
    # the probabilities shown are the weighted ones, and still sum to 1
    probs = shown[-1][0].probs
    assert probs["mask_worn_incorrectly"] > probs["with_mask"] and sum(probs.values()) == pytest.approx(1.0)


def test_video_divides_out_the_shipped_classifiers_training_mix():
    from maskwatch.classify import MaskClassifier
    from maskwatch.video.step import tracker_config

    clf = MaskClassifier()
    w = clf.balancing_weights()
    prior = [clf.class_prior[label] for label in clf.labels]
    # the rarest class in training gets the largest weight, and weight x prior is the same for all
    assert np.argmax(w) == clf.labels.index("mask_worn_incorrectly")
    assert np.allclose(w * prior, (w * prior)[0])
    assert tracker_config(clf, TrackerConfig()).class_weights == pytest.approx(tuple(w))
    assert tracker_config(clf, TrackerConfig(), "trained").class_weights is None
    assert tracker_config(clf, TrackerConfig(), labels_from="detector").class_weights is None
    with pytest.raises(ValueError, match="class prior must be one of balanced, trained"):
        tracker_config(clf, TrackerConfig(), "uniform")


@pytest.mark.parametrize("fps", [4.0, 5.0, 12.0])
def test_a_face_is_one_track_at_a_site_cameras_low_rate(fps):
    """A walking face analysed a few times a second stays one track (ByteTrack counts its wait
    in 30-fps frames: given the analysed rate's frame count, a 5 fps track died between frames)."""
    from maskwatch.video.tracking import tracker_for_rate

    t = FaceTracker(fps=fps, config=tracker_for_rate(TrackerConfig(classify_every=1), fps))
    for i in range(12):  # 15 px a frame, under a third of the face's width
        t.update(boxes(100 + 15 * i), lambda rows: np.array([WITH] * len(rows), np.float32), i, i / fps)
    t.finish()
    assert t.counts()["people"] == 1
    assert len({e["track"] for e in t.events if e["event"] == "appear"}) == 1


def test_at_5_fps_a_face_moving_most_of_its_width_per_frame_stays_one_track():
    """50 px a frame for a 60 px box: its boxes in two frames overlap by IoU 0.09, under ByteTrack's
    0.1, so a track never starts on the real boxes; the rate's enlarged association boxes link them."""
    from maskwatch.video.tracking import tracker_for_rate

    config = tracker_for_rate(TrackerConfig(classify_every=1), 5.0)
    assert config.association_scale == pytest.approx(3.0) and config.min_observations == 3
    ids = {scale: _tracks_of_a_walker(scale, 50, start=20, frames=12) for scale in (1.0, config.association_scale)}
    assert len(ids[config.association_scale]) == 1
    assert len(ids[1.0]) != 1  # the real boxes alone: no steady track


def _tracks_of_a_walker(scale: float, step_px: float, fps: float = 5.0, start: float = 10, frames: int = 8) -> set:
    """The track ids a 60 px face walking `step_px` a frame was given, with association boxes scaled by `scale`."""
    from dataclasses import replace

    from maskwatch.video.tracking import tracker_for_rate

    config = tracker_for_rate(TrackerConfig(classify_every=1), fps)
    t = FaceTracker(fps=fps, config=replace(config, association_scale=scale))
    seen = set()
    for i in range(frames):
        faces = t.update(boxes(start + step_px * i), lambda rows: np.array([WITH] * len(rows), np.float32), i, i / fps)
        seen |= {f.track_id for f in faces}
    return seen


def test_at_5_fps_a_brisk_walker_moving_well_over_its_width_per_frame_is_tracked():
    """100 px a frame for a 60 px box (a walk across the picture in under 2 s): a new track's
    second box must overlap its first by IoU 0.1 before its motion is known. The boxes scaled by
    1.5 (the scale before 2026-12-07) never did, and no track ever started; the rate's scale does."""
    from maskwatch.video.tracking import tracker_for_rate

    scale = tracker_for_rate(TrackerConfig(), 5.0).association_scale
    assert len(_tracks_of_a_walker(scale, 100)) == 1
    assert _tracks_of_a_walker(1.5, 100) == set()
    # At 12.5 and 25 fps the same walk moves 40 and 20 px a frame: the scale stays near 1.
    assert tracker_for_rate(TrackerConfig(), 12.5).association_scale == pytest.approx(1.2)
    assert tracker_for_rate(TrackerConfig(), 25.0).association_scale == 1.0


@pytest.mark.parametrize("takeover, tracks", [(-1.0, 1), (0.2, 2)])
def test_a_face_that_suddenly_looks_unlike_its_track_can_get_its_own(takeover, tracks):
    """A red face, then in the same place a blue one: ByteTrack keeps the id (the boxes overlap);
    with takeover_similarity the blue face is someone else."""
    import cv2

    t = FaceTracker(config=TrackerConfig(classify_every=1, takeover_similarity=takeover))
    rng = np.random.default_rng(0)
    ids = set()
    for i in range(16):
        frame = np.zeros((300, 400, 3), np.uint8)
        hue = 0 if i < 8 else 120  # OpenCV hue: red, then blue
        patch = np.dstack([np.full((70, 60), hue), rng.integers(150, 256, (70, 60)), rng.integers(100, 256, (70, 60))]).astype(np.uint8)
        x = 100 + 2 * i
        frame[100:170, x : x + 60] = cv2.cvtColor(patch, cv2.COLOR_HSV2BGR)
        faces = t.update(boxes(x), lambda rows: np.array([WITH] * len(rows), np.float32), i, i / 30, frame)
        ids |= {f.track_id for f in faces}
    assert len(ids) == tracks


def track_ids(t, face_boxes, fps, image=None, start=0):
    """Feed one sure with_mask face per frame (its xyxy box, or None: no face) at `fps`, from frame
    `start`; the track ids shown."""
    ids = []
    for i, box in enumerate(face_boxes, start):
        rows = [box] if box is not None else []
        found = FaceBoxes(
            np.array(rows, np.float32).reshape(-1, 4), np.full(len(rows), 0.95, np.float32), np.zeros((len(rows), 5, 2), np.float32)
        )
        ids += [f.track_id for f in t.update(found, lambda rows: np.array([WITH] * len(rows), np.float32), i, i / fps, image)]
    return ids


@pytest.mark.parametrize("jump, tracks", [(-1.0, 1), (0.0, 2)])
def test_at_5_fps_a_nearer_face_that_takes_a_track_over_gets_its_own(jump, tracks):
    """A 70 px face walks; then, where it should be next, a 120 px face (someone nearer, passing
    in front): the enlarged association boxes overlap and ByteTrack keeps the id. At a low rate
    (jump_height by rate, 1.5) the taller face is someone else; off (-1), one track covers both."""
    from maskwatch.video.tracking import SAME_FACE_HEIGHT, tracker_for_rate

    fps = 5.0
    config = tracker_for_rate(TrackerConfig(classify_every=1, jump_height=jump), fps)
    assert config.jump_height == (SAME_FACE_HEIGHT if jump == 0 else jump)
    t = FaceTracker(fps=fps, config=config)
    xs = [100 + 30 * i for i in range(14)]
    ids = track_ids(t, [[x, 100, x + 60, 170] if i < 7 else [x - 20, 75, x + 80, 195] for i, x in enumerate(xs)], fps)
    t.finish()
    assert len(set(ids)) == tracks
    assert t.counts()["people"] == tracks


def test_a_track_no_class_is_sure_of_never_counts():
    """Probabilities split on every frame (the mark of a non-face, which video does not filter by
    the classifier's not_a_face output) never reach `confident`: shown unlabelled, never a person."""
    t = FaceTracker(config=TrackerConfig(classify_every=1, min_observations=6))
    out = run(t, [[(100, [0.45, 0.15, 0.40])]] * 12)
    t.finish()
    assert t.counts()["people"] == 0 and not t.events
    assert all(f.label is None for faces in out for f in faces)


@pytest.mark.parametrize("reversal, tracks", [(-1.0, 1), (0.0, 2)])
def test_at_5_fps_a_face_walking_the_other_way_does_not_continue_the_track(reversal, tracks):
    """A face walks right; then, next to where it was, a face of the same size walks left (two
    people crossing: the enlarged association boxes let ByteTrack keep the id). A walker cannot
    turn back within one analysed frame: with the reversal test by rate there are two tracks;
    off (-1), one track covers both people."""
    from maskwatch.video.tracking import REVERSAL, tracker_for_rate

    fps = 5.0
    config = tracker_for_rate(TrackerConfig(classify_every=1, reversal=reversal), fps)
    assert config.reversal == (REVERSAL if reversal == 0 else reversal)
    t = FaceTracker(fps=fps, config=config)
    xs = [100 + 30 * i if i < 7 else 100 + 30 * 6 - 30 * (i - 6) for i in range(14)]
    ids = track_ids(t, [[x, 100, x + 60, 170] for x in xs], fps)
    t.finish()
    assert len(set(ids)) == tracks
    assert t.counts()["people"] == tracks


def test_a_face_standing_still_is_not_split_by_jitter():
    """The reversal test only applies to a moving track: a face jittering in place at 5 fps stays one track."""
    from maskwatch.video.tracking import tracker_for_rate

    t = FaceTracker(fps=5.0, config=tracker_for_rate(TrackerConfig(classify_every=1), 5.0))
    xs = [200 + (3 if i % 2 else -3) for i in range(12)]
    ids = set(track_ids(t, [[x, 100, x + 60, 170] for x in xs], 5.0))
    assert len(ids) == 1


def test_class_smoothing_keeps_its_time_constant_at_other_rates():
    """0.3 of each new frame at 25 fps is the same running average in seconds as 1 - 0.7 ** 5 at 5 fps."""
    from maskwatch.video.tracking import tracker_for_rate

    assert tracker_for_rate(TrackerConfig(), 25.0).smoothing == pytest.approx(0.3)
    assert tracker_for_rate(TrackerConfig(), 5.0).smoothing == pytest.approx(1 - 0.7**5)
    assert tracker_for_rate(TrackerConfig(), 12.5).smoothing == pytest.approx(1 - 0.7**2)


def test_a_face_walking_in_where_a_track_walked_out_is_someone_else():
    """At 5 fps a face walks out at the frame's left edge; three frames later another walks in at
    that edge. ByteTrack's enlarged boxes still reach the lost track, but its face, carried on at
    its speed, is out of the picture by then: the newcomer never shows the leaver's track id."""
    from maskwatch.video.tracking import tracker_for_rate

    fps = 5.0
    t = FaceTracker(fps=fps, config=tracker_for_rate(TrackerConfig(classify_every=1), fps))
    frame = np.full((480, 640, 3), 128, np.uint8)
    out = [[x, 100, x + 60, 170] for x in range(300, 20, -40)]  # x 300 ... 60
    walking_in = [[x, 100, x + 60, 170] for x in range(0, 300, 40)]
    first = set(track_ids(t, out + [None, None], fps, frame))
    second = set(track_ids(t, walking_in, fps, frame, start=len(out) + 2))
    assert len(first) == 1 and second and not first & second


class _ScriptedIds:
    """Stands in for ByteTrack: frame k's detections get the ids `script[k]`."""

    def __init__(self, script):
        self.script, self.frame = script, 0

    def update(self, dets, timestamp):
        dets.tracker_id = np.array(self.script[self.frame], int)
        self.frame += 1
        return dets


def test_a_track_byte_track_continues_is_not_given_to_another_face():
    """Face A (ByteTrack id 1) is missed for a frame; then it is back (id 1) beside a newcomer
    (new id 2) standing where A's lost track is predicted. The newcomer is not re-linked to A's
    track, which ByteTrack continues: no two faces share a track id in one frame."""
    t = FaceTracker(config=TrackerConfig(classify_every=1))
    t._bt = _ScriptedIds([[1]] * 5 + [[]] + [[2, 1]] * 3)
    image = np.full((480, 640, 3), 90, np.uint8)
    for i in range(9):
        xs = [100 + 4 * i] if i < 5 else [] if i == 5 else [100 + 4 * i, 100 + 4 * i + 50]
        faces = t.update(boxes(*xs), lambda rows: np.array([WITH] * len(rows), np.float32), i, i / 25, image)
        ids = [f.track_id for f in faces]
        assert len(ids) == len(set(ids)), f"frame {i}: {ids}"


@pytest.mark.parametrize("low_rate, counted", [(True, 1), (False, 0)])
def test_at_5_fps_a_weaker_face_with_a_less_sure_label_is_counted(low_rate, counted):
    """A face the detector scores 0.55, read with_mask at 0.55, on 6 analysed frames at 5 fps: the
    low-rate tracker (start from 0.5, first label at 0.5) counts the person; with the 25 fps
    thresholds (0.6 for both) no track starts and no one is counted."""
    from dataclasses import replace

    from maskwatch.video.tracking import LOW_RATE_CONFIDENT, LOW_RATE_START, tracker_for_rate

    fps = 5.0
    config = tracker_for_rate(TrackerConfig(classify_every=1), fps)
    assert (config.activation_score, config.confident) == (LOW_RATE_START, LOW_RATE_CONFIDENT)
    if not low_rate:
        config = replace(config, activation_score=0.6, confident=0.6)
    t = FaceTracker(fps=fps, config=config)
    unsure = np.array([[0.55, 0.25, 0.2]], np.float32)
    for i in range(6):
        x = 100 + 30 * i
        found = FaceBoxes(np.array([[x, 100, x + 60, 170]], np.float32), np.array([0.55], np.float32), np.zeros((1, 5, 2), np.float32))
        t.update(found, lambda rows: unsure[: len(rows)], i, i / fps)
    t.finish()
    assert t.counts()["people"] == counted


def test_the_low_rate_start_leaves_25_fps_and_a_chosen_value_alone():
    from maskwatch.video.tracking import tracker_for_rate

    at25 = tracker_for_rate(TrackerConfig(), 25.0)
    assert (at25.activation_score, at25.confident) == (0.6, 0.6)
    chosen = tracker_for_rate(TrackerConfig(activation_score=0.7, confident=0.8), 5.0)
    assert (chosen.activation_score, chosen.confident) == (0.7, 0.8)
