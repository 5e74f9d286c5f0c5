"""People counting with ground truth: synthetic walk-by clips built from real annotated faces.

    python benchmarks/bench_counting.py --annotations ../shared/data/ilc2021/annotations.json:val

Each person is a real face crop (face box plus context) from the annotations, with its annotated
class, sliding across a 640x480 frame at walking speed (a few seconds on screen), several people
at once on different rows, some crossing each other. The frames go through the same detector
and tracker as `maskwatch video` (video settings: 1x, no mirrored look), frame by frame, and are
scored against the known boxes and identities with motmetrics (MOTA, IDF1, ID switches), plus
the count of people and of each class against the truth, and a table of where the count errors
come from (misread classes, missed people, people split into two tracks, false tracks).
Nothing is written to disk, except with --cache.

Every person walks the whole width, so each crosses the line x = 0.5 once, in a known direction:
the door line `maskwatch video --line door=0.5,0,0.5,1` counts them (left to right is "in"), and
its in/out counts per class are scored against that truth too. `--analysed-fps 5` analyses one
frame in five, as a site camera with `detect_fps = 5` does (tracker frame counts kept in seconds).

`--passers-by N --corrections benchmarks/ilc2021_val_corrections.json` also walks N things that
are not faces through each clip (patches of the same photos away from every face), behind the
people: the `nobody` row and "false track crossed" then show what a lower tracking bar costs.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import replace

import cv2
import numpy as np

from maskwatch.boxes import iou_matrix
from maskwatch.datasets import load_annotations
from maskwatch.imageio import read_image
from maskwatch.types import LABELS

W, H, FPS = 640, 480, 25.0
CONTEXT = 0.35  # crop margin around the face, as a share of its side: hair, neck, shoulders


def people_from(annotations: str, per_class: dict[str, int], min_height: int, rng) -> list[tuple[np.ndarray, tuple, str]]:
    """(crop, face box inside the crop, label) for `per_class[label]` faces of each class."""
    pools = {label: [] for label in LABELS}
    for item in load_annotations(annotations):
        for k, (x1, y1, x2, y2, label) in enumerate(item.boxes):
            m = CONTEXT * max(x2 - x1, y2 - y1)
            # Only faces whose crop holds no other annotated face: one person per sprite.
            alone = all(b[2] < x1 - m or b[0] > x2 + m or b[3] < y1 - m or b[1] > y2 + m for j, b in enumerate(item.boxes) if j != k)
            if y2 - y1 >= min_height and alone:
                pools[label].append((item.path, (x1, y1, x2, y2)))
    out = []
    for label, pool in pools.items():
        for k in rng.permutation(len(pool))[: per_class[label]]:
            path, (x1, y1, x2, y2) = pool[k]
            img = read_image(path)
            m = CONTEXT * max(x2 - x1, y2 - y1)
            cx1, cy1 = int(max(0, x1 - m)), int(max(0, y1 - m))
            cx2, cy2 = int(min(img.shape[1], x2 + m)), int(min(img.shape[0], y2 + m))
            out.append((img[cy1:cy2, cx1:cx2].copy(), (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1), label))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def clear_of_faces(rect, faces) -> bool:
    """Whether `rect` (x1, y1, x2, y2) keeps off every face box, each widened by the crop margin."""
    x1, y1, x2, y2 = rect
    for fx1, fy1, fx2, fy2 in faces:
        m = CONTEXT * max(fx2 - fx1, fy2 - fy1)
        if x1 <= fx2 + m and x2 >= fx1 - m and y1 <= fy2 + m and y2 >= fy1 - m:
            return False
    return True


def passers_by(annotations: str, corrections: str | None, n: int, min_height: int, rng) -> list[tuple[np.ndarray, tuple, None]]:
    """`n` sprites that are not faces: patches of the same photos, each the size of a face of that
    photo with its context, where no face is (annotated, or listed unboxed in `corrections`, with
    the crop margin around each). They walk by as people do (clothes, hands, walls, signs), so the
    clips hold what a real door camera also sees, and a track on one is a false person."""
    from maskwatch.datasets import load_corrections

    unboxed = load_corrections(corrections).unboxed if corrections else {}
    items = [it for it in load_annotations(annotations) if any(b[3] - b[1] >= min_height for b in it.boxes)]
    out, tries = [], 0
    while len(out) < n and tries < 200 * max(n, 1):
        tries += 1
        item = items[int(rng.integers(len(items)))]
        x1, y1, x2, y2, _ = item.boxes[int(rng.integers(len(item.boxes)))]
        if y2 - y1 < min_height:
            continue
        m = CONTEXT * max(x2 - x1, y2 - y1)
        pw, ph = (x2 - x1) + 2 * m, (y2 - y1) + 2 * m
        if pw >= item.width or ph >= item.height:
            continue
        px, py = rng.uniform(0, item.width - pw), rng.uniform(0, item.height - ph)
        if not clear_of_faces((px, py, px + pw, py + ph), [b[:4] for b in item.boxes] + list(unboxed.get(item.key, []))):
            continue
        img = read_image(item.path)
        crop = img[int(py) : int(py + ph), int(px) : int(px + pw)].copy()
        # The "face" of the sprite is its middle, as a person sprite's face sits inside its margin.
        out.append((crop, (m, m, m + (x2 - x1), m + (y2 - y1)), None))
    return out


def schedule(n: int, rng, seconds_on_screen=(3.0, 5.0), gap_s=(0.6, 1.6)) -> list[dict]:
    """Entry frame, speed, direction, row and face height of each person: a new one every ~1 s."""
    plans, t = [], 0.0
    for _ in range(n):
        dur = rng.uniform(*seconds_on_screen)
        plans.append(
            {
                "start": int(t * FPS),
                "frames": int(dur * FPS),
                "left_to_right": bool(rng.random() < 0.7),
                "row": float(rng.uniform(0.15, 0.55)),
                "face_h": float(rng.uniform(70, 150)),
            }
        )
        t += rng.uniform(*gap_s)
    return plans


def render(people, plans, background) -> tuple[list[np.ndarray], list[list[tuple[int, tuple, bool]]]]:
    """Frames and, per frame, the people in view as (person id, face box in the frame, hidden):
    sprites labelled None (passers_by) are drawn behind everyone, and are nobody.
    `hidden` when nearer people cover more than half of the face (no detector can see it; the
    scoring ignores it, as MOTChallenge ignores heavily occluded people)."""
    end = max(p["start"] + p["frames"] for p in plans) + 5
    frames, truth = [], []
    for f in range(end):
        frame = background.copy()
        owner = np.full((H, W), -1, np.int32)  # who is drawn on top at each pixel
        visible = []
        # Larger faces are nearer: draw them last, so they occlude the smaller ones. Passers-by go
        # behind everyone: they add what could be mistaken for a face, and hide no one (so the
        # people's visibility is the same with or without them).
        for pid in sorted(range(len(plans)), key=lambda i: (people[i][2] is not None, plans[i]["face_h"])):
            p = plans[pid]
            k = f - p["start"]
            if not 0 <= k < p["frames"]:
                continue
            crop, (fx1, fy1, fx2, fy2), label = people[pid]
            s = p["face_h"] / (fy2 - fy1)
            cw, ch = max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))
            progress = k / max(p["frames"] - 1, 1)
            if not p["left_to_right"]:
                progress = 1 - progress
            x0 = int(-cw + progress * (W + cw))
            y0 = int(p["row"] * H)
            sprite = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            xa, ya, xb, yb = max(0, x0), max(0, y0), min(W, x0 + cw), min(H, y0 + ch)
            if xb <= xa or yb <= ya:
                continue
            frame[ya:yb, xa:xb] = sprite[ya - y0 : yb - y0, xa - x0 : xb - x0]
            owner[ya:yb, xa:xb] = pid
            box = (x0 + fx1 * s, y0 + fy1 * s, x0 + fx2 * s, y0 + fy2 * s)
            vis_w = min(box[2], W) - max(box[0], 0)
            # A face mostly in the frame counts as in view; passers-by (label None) are nobody.
            if label is not None and vis_w >= 0.6 * (box[2] - box[0]):
                visible.append((pid, (max(box[0], 0), box[1], min(box[2], W), box[3])))
        frames.append(frame)
        truth.append([(pid, box, _shown_share(owner, pid, box) < 0.5) for pid, box in visible])
    return frames, truth


def _shown_share(owner: np.ndarray, pid: int, box) -> float:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    patch = owner[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)]
    return float((patch == pid).mean()) if patch.size else 0.0


def cached_detections(det, frames, args, seed) -> list | None:
    """Per frame (FaceBoxes, class probabilities of every box), from --cache when there, else
    computed and saved; None without --cache. The key names everything that changes them."""
    if not args.cache:
        return None
    from pathlib import Path

    from maskwatch.detectors import FaceBoxes

    key = f"{Path(args.annotations).parent.name}-{args.annotations.rpartition(':')[2]}-s{seed}-n{'-'.join(map(str, args.per_class))}-h{args.min_height}"
    key += f"-{Path(args.model).stem if args.model else 'shipped'}-{Path(args.detector).stem if args.detector else 'shipped'}"
    key += f"-x{args.detect_scale:g}" if args.detect_scale != 1.0 else ""
    key += f"-c{args.conf:g}" if args.conf is not None else ""
    key += f"-p{args.passers_by}" if args.passers_by else ""
    key += f"-w{args.walk_seconds[0]:g}-{args.walk_seconds[1]:g}" if tuple(args.walk_seconds) != (3.0, 5.0) else ""
    path = Path(args.cache) / f"{key}{'-mirror' if args.mirror_unsure else ''}.npz"
    if path.exists():
        z = np.load(path)
        return [(FaceBoxes(z[f"xyxy{f}"], z[f"scores{f}"], z[f"landmarks{f}"]), z[f"probs{f}"]) for f in range(len(frames))]
    arrays, out = {}, []
    for f, frame in enumerate(frames):
        found = det.find_faces(frame, args.detect_scale)
        probs = det.class_probs(frame, found) if len(found) else np.zeros((0, len(det.classifier.labels)), np.float32)
        out.append((found, probs))
        arrays.update({f"xyxy{f}": found.xyxy, f"scores{f}": found.scores, f"landmarks{f}": found.landmarks, f"probs{f}": probs})
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return out


def owners(acc) -> dict:
    """Track id -> the person it covered in most frames."""
    matches = acc.mot_events[acc.mot_events["Type"].isin(["MATCH", "SWITCH", "TRANSFER"])]
    return matches.groupby("HId")["OId"].agg(lambda s: s.value_counts().index[0]).to_dict() if len(matches) else {}


def note_people(owner: dict, seed: int, people, labels_of_tracks: dict, confusion: Counter) -> None:
    """Where count errors come from: each counted track is given the person it covered in most
    frames (or "nobody": a false track); a person no track covered is "missed". A person split
    into two tracks is counted twice: "split" says how many extra tracks each class had."""
    tracks_of = Counter()
    for (s, tid), label in labels_of_tracks.items():
        if s != seed:
            continue
        pid = owner.get(tid)
        truth = people[int(pid)][2] if pid is not None else "nobody"
        tracks_of[pid] += 1
        confusion[truth, label] += 1
    covered = set(tracks_of)
    for pid, n in tracks_of.items():
        if pid is not None and n > 1:
            confusion[people[int(pid)][2], "split"] += n - 1
    for pid, (_, _, label) in enumerate(people):
        if pid not in covered:
            confusion[label, "missed"] += 1


def note_crossings(owner: dict, plans, people_tracks: set, span: dict, crossings: dict, outcome: Counter) -> None:
    """Why a person's door-line crossing was or was not counted. Each person crosses x = W / 2
    once; `span`: track id -> (centre x first seen, centre x last seen); `crossings`: track id ->
    the directions its line_crossed events gave; `people_tracks`: the tracks counted as people."""
    mid = W / 2
    tracks_of: dict = {}
    for tid in people_tracks:
        if owner.get(tid) is not None:
            tracks_of.setdefault(int(owner[tid]), []).append(tid)
    for tid in people_tracks:
        if owner.get(tid) is None and crossings.get(tid):
            outcome["false track crossed"] += len(crossings[tid])
    for pid, plan in enumerate(plans):
        want = "in" if plan["left_to_right"] else "out"
        tids = sorted(tracks_of.get(pid, []), key=lambda t: span[t][0] if plan["left_to_right"] else -span[t][0])
        got = [d for t in tids for d in crossings.get(t, [])]
        if got == [want]:
            outcome["counted once"] += 1
            continue
        if got:
            outcome["wrong direction" if want not in got else "counted more than once"] += 1
            continue
        before = (lambda x: x < mid) if plan["left_to_right"] else (lambda x: x >= mid)
        if not tids:
            outcome["missed: no track counted as a person"] += 1
        elif not before(span[tids[0]][0]):
            outcome["missed: first found past the line"] += 1
        elif before(span[tids[-1]][1]):
            outcome["missed: last seen before the line"] += 1
        elif len(tids) > 1:
            outcome["missed: split into tracks on either side"] += 1
        else:
            outcome["missed: other"] += 1


def print_confusion(confusion: Counter) -> None:
    cols = [*LABELS, "missed", "split"]
    print("true \\ counted as".ljust(24) + "".join(c[:12].rjust(13) for c in cols))
    for truth in [*LABELS, "nobody"]:
        print(truth[:22].ljust(24) + "".join(str(confusion[truth, c]).rjust(13) for c in cols))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--annotations", required=True, help="annotations.json[:PART] with face boxes and classes")
    ap.add_argument(
        "--per-class",
        type=int,
        nargs="+",
        default=[10],
        metavar="N",
        help="people of each class, or three numbers for with, without and incorrect, e.g. 24 4 2 for a mostly masked crowd "
        "(default: 10 each)",
    )
    ap.add_argument("--min-height", type=int, default=60, help="smallest annotated face to use, px")
    ap.add_argument(
        "--walk-seconds",
        type=float,
        nargs=2,
        default=[3.0, 5.0],
        metavar=("LEAST", "MOST"),
        help="how long each person takes to cross the frame, drawn between these (default: 3 5; less is a faster walk)",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int)
    ap.add_argument("--model")
    ap.add_argument("--detector")
    ap.add_argument("--runtime", help="as `maskwatch video --runtime` (default: onnxruntime)")
    ap.add_argument(
        "--parts", help="as `maskwatch video --parts`: a part check .onnx, or off (default: the shipped one, where there is one)"
    )
    ap.add_argument("--part-weight", type=float, help="as `maskwatch video --part-weight`")
    ap.add_argument("--mirror-unsure", action="store_true", help="also classify unsure crops mirrored, as photos do (video does not)")
    ap.add_argument(
        "--class-prior",
        choices=("balanced", "trained"),
        default="balanced",
        help="as `maskwatch video --class-prior` (default: %(default)s)",
    )
    ap.add_argument(
        "--analysed-fps",
        type=float,
        default=FPS,
        help=f"frames analysed per second of the {FPS:g} fps clips, as a site's detect_fps (default: every frame)",
    )
    ap.add_argument(
        "--conf",
        type=float,
        help="detector score a box needs to reach the tracker, as `maskwatch video --conf` (default: the video preset's)",
    )
    ap.add_argument("--detect-scale", type=float, default=1.0, help="as a site camera's detect_scale: detection on the frame shrunk so")
    ap.add_argument(
        "--passers-by",
        type=int,
        default=0,
        metavar="N",
        help="also N sprites per clip that are not faces (patches of the same photos away from every face) walking by: "
        "a track counted on one is a false person (default: none)",
    )
    ap.add_argument(
        "--corrections",
        help="a corrections file listing the faces the annotations leave out (benchmarks/ilc2021_val_corrections.json), "
        "so that no passer-by holds one",
    )
    ap.add_argument("--tracker", nargs="*", default=[], metavar="FIELD=VALUE", help="TrackerConfig fields, e.g. lost_frames=60")
    ap.add_argument(
        "--cache",
        metavar="DIR",
        help="keep each seed's detections and class probabilities here and reuse them: tracker settings can then be "
        "compared in seconds (the classifier is deterministic per crop, so the tracker sees exactly what it would live)",
    )
    args = ap.parse_args()
    if len(args.per_class) not in (1, 3):
        ap.error("--per-class takes one number, or three (with, without, incorrect)")

    import motmetrics as mm

    from maskwatch.pipeline import Detector
    from maskwatch.settings import VIDEO, VideoSettings
    from maskwatch.video.counting import PeopleCounter
    from maskwatch.video.lines import LineCounter
    from maskwatch.video.step import FrameStep
    from maskwatch.video.tracking import TrackerConfig, tracker_for_rate, weight_classes

    det = Detector(
        VIDEO if args.conf is None else replace(VIDEO, conf=args.conf),
        classifier=args.model,
        detector=args.detector,
        flip=args.mirror_unsure,
        threads=args.threads,
        runtime=args.runtime,
        parts=args.parts,
        part_weight=args.part_weight,
    )
    summaries = []
    stride = max(1, round(FPS / args.analysed_fps))
    rate = FPS / stride
    labels_of_tracks: dict = {}  # (seed, track id) -> label counted
    confusion: Counter = Counter()  # (true class or "nobody", counted label or "missed") -> people
    outcomes: Counter = Counter()  # why each door-line crossing was counted or not
    # The door-line totals a perfect tracker would reach on these detections: people the detector
    # finds (IoU 0.3, loose enough for annotators' box conventions; half-hidden frames too, so the
    # ceiling errs high) on as many analysed frames as a track needs to count, per direction.
    findable, walking = Counter(), Counter()
    # And the people shown (under half hidden) on that many analysed frames: someone always
    # behind a nearer face is in the truth, but no camera could count them.
    showable = Counter()
    # And the classes a perfect tracker would count them under: each findable person labelled by
    # the mean of the classifier's (prior-weighted) probabilities over every frame the detector
    # found them on, as a track's final label is. Where a class misses here, no tracker fixes it.
    class_ceiling: Counter = Counter()  # (direction, label given) -> findable people
    class_truth: Counter = Counter()  # (direction, true label) -> people walking
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        mix = args.per_class * 3 if len(args.per_class) == 1 else args.per_class
        people = people_from(args.annotations, dict(zip(LABELS, mix)), args.min_height, rng)
        plans = schedule(len(people), rng, tuple(args.walk_seconds))
        noise = rng.normal(120, 40, (H // 8, W // 8, 3)).clip(0, 255).astype(np.uint8)
        background = cv2.GaussianBlur(cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC), (0, 0), 3)
        # Passers-by draw from their own generator, so the people and their walks stay as without them.
        crng = np.random.default_rng([seed, 1])
        clutter = passers_by(args.annotations, args.corrections, args.passers_by, args.min_height, crng) if args.passers_by else []
        clutter_plans = schedule(len(clutter), crng)
        for c in clutter_plans:
            c["start"] = int(crng.integers(0, max(1, plans[-1]["start"])))
        frames, truth = render(people + clutter, plans + clutter_plans, background)
        overrides = {k: type(getattr(TrackerConfig(), k))(v) for k, v in (kv.split("=", 1) for kv in args.tracker)}
        # The frame step and counter `maskwatch video` runs (class prior included).
        tracker = TrackerConfig(**overrides)
        tracker = tracker_for_rate(tracker, rate) if stride > 1 else tracker
        step = FrameStep(det, rate, VideoSettings(class_prior=args.class_prior), tracker, args.detect_scale)
        counter = PeopleCounter(det.classifier.labels)
        door = LineCounter("door", (0.5, 0.0, 0.5, 1.0), det.classifier.labels)
        ends = []
        span: dict = {}  # track id -> (centre x first seen, centre x last seen)
        crossings: dict = {}  # track id -> directions crossed
        acc = mm.MOTAccumulator(auto_id=True)
        t0 = time.perf_counter()
        seen = cached_detections(det, frames, args, seed)
        found_on: Counter = Counter()  # person -> analysed frames the detector found them on
        prob_sum: dict = {}  # person -> summed class probabilities of their best box on those frames
        shown_on: Counter = Counter()  # person -> analysed frames they were under half hidden
        for f, (frame, visible) in enumerate(zip(frames, truth)):
            if f % stride:
                continue
            k = f // stride  # the analysed frame's index: the tracker counts its gaps in analysed frames
            found, probs = seen[f] if seen is not None else (det.find_faces(frame, args.detect_scale), None)
            # Every box's classes, as --cache keeps them (the tracker sees the same; without --cache
            # the fps printed then includes classifying every box, which video does every few frames).
            if probs is None and len(found):
                probs = det.class_probs(frame, found)
            result = step.track(frame, k, f / FPS, found, probs)
            for pid, box, hidden in visible:
                shown_on[pid] += not hidden
                overlap = iou_matrix(np.array([box], float), found.xyxy.astype(float))[0] if len(found) else np.zeros(0)
                if len(overlap) and overlap.max() >= 0.3:
                    found_on[pid] += 1
                    p = weight_classes(probs[[int(overlap.argmax())]], step.tracker_config.class_weights)[0]
                    prob_sum[pid] = prob_sum.get(pid, 0.0) + np.asarray(p, np.float64)
            counter.observe(result.observed, k, f / FPS)
            for e in door.observe(result.observed, k, f / FPS, frame_size=(W, H)):
                crossings.setdefault(e["track"], []).append(e["direction"])
            for t in result.observed:
                cx = float(t.box[0] + t.box[2]) / 2
                span[t.id] = (span.get(t.id, (cx,))[0], cx)
            ends += counter.end(result.ended)
            for e in door.end(result.ended):  # crossings of lost faces, counted when their track ends
                crossings.setdefault(e["track"], []).append(e["direction"])
            tracked = result.faces
            gt_ids = [pid for pid, _, hidden in visible if not hidden]
            gt_boxes = np.array([b for _, b, hidden in visible if not hidden], float).reshape(-1, 4)
            hyp = [t for t in tracked if t.label is not None]
            hidden_boxes = np.array([b for _, b, hidden in visible if hidden], float).reshape(-1, 4)
            if len(hidden_boxes) and hyp:  # a track on a hidden face is neither a hit nor a false one
                on_hidden = iou_matrix(np.array([t.box for t in hyp], float), hidden_boxes).max(1) >= 0.5
                hyp = [t for t, h in zip(hyp, on_hidden) if not h]
            hyp_boxes = np.array([t.box for t in hyp], float).reshape(-1, 4)
            # motmetrics' distance: 1 - IoU, no match (NaN) under IoU 0.5 (its own helper needs numpy < 2).
            dist = 1 - iou_matrix(gt_boxes, hyp_boxes)
            dist[dist > 0.5] = np.nan
            acc.update(gt_ids, [t.track_id for t in hyp], dist)
        last = step.finish()
        ends += counter.end(last)
        for e in door.end(last):
            crossings.setdefault(e["track"], []).append(e["direction"])
        crossed = door.counts()
        for pid, plan in enumerate(plans):
            d = "in" if plan["left_to_right"] else "out"
            walking[d] += 1
            findable[d] += found_on[pid] >= step.tracker_config.min_observations
            class_truth[d, people[pid][2]] += 1
            if found_on[pid] >= step.tracker_config.min_observations:
                class_ceiling[d, det.classifier.labels[int(np.argmax(prob_sum[pid]))]] += 1
            showable[d] += shown_on[pid] >= step.tracker_config.min_observations
        crossed_true = {
            d: {
                label: sum(1 for (_, _, lab), p in zip(people, plans) if lab == label and p["left_to_right"] == (d == "in"))
                for label in LABELS
            }
            for d in ("in", "out")
        }
        labels_of_tracks.update({(seed, e["track"]): e["label"] for e in ends if e["event"] == "end"})
        owner = owners(acc)
        note_people(owner, seed, people, labels_of_tracks, confusion)
        people_tracks = {tid for (s, tid) in labels_of_tracks if s == seed}
        note_crossings(owner, plans, people_tracks, span, crossings, outcomes)
        seconds = time.perf_counter() - t0
        counts = counter.counts()
        m = mm.metrics.create().compute(
            acc, metrics=["mota", "idf1", "num_switches", "num_fragmentations", "recall", "precision", "idp", "idr"], name=str(seed)
        )
        truth_counts = {label: sum(1 for _, _, lab in people if lab == label) for label in LABELS}
        row = {
            "seed": seed,
            "frames": len(frames),
            "fps": len(frames) / seconds,
            "people_true": len(people),
            "people": counts["people"],
            **{f"{label}_true": truth_counts[label] for label in LABELS},
            **{label: counts[label] for label in LABELS},
            "mota": float(m["mota"].iloc[0]),
            "idf1": float(m["idf1"].iloc[0]),
            "id_switches": int(m["num_switches"].iloc[0]),
            "crossed": crossed,
            "crossed_true": crossed_true,
            **{k: float(m[k].iloc[0]) for k in ("recall", "precision", "idp", "idr")},
        }
        summaries.append(row)
        per_class = ", ".join(f"{label} {counts[label]}/{truth_counts[label]}" for label in LABELS)
        print(
            f"seed {seed}: {len(frames)} frames, {len(people)} people -> counted {counts['people']} ({per_class}); "
            f"MOTA {row['mota']:.3f}, IDF1 {row['idf1']:.3f}, ID switches {row['id_switches']}; {row['fps']:.0f} fps"
            + (" (tracking only: detections from --cache)" if args.cache else ""),
            flush=True,
        )
        print(
            "  door line: "
            + "; ".join(
                f"{d} {sum(crossed[d].values())}/{sum(crossed_true[d].values())} ("
                + ", ".join(f"{label} {crossed[d][label]}/{crossed_true[d][label]}" for label in LABELS)
                + ")"
                for d in ("in", "out")
            ),
            flush=True,
        )
    tot_true = sum(r["people_true"] for r in summaries)
    tot = sum(r["people"] for r in summaries)
    print(
        f"all seeds: people counted {tot} of {tot_true} ({100 * (tot - tot_true) / tot_true:+.1f} %); "
        + ", ".join(
            f"{label} {sum(r[label] for r in summaries)}/{sum(r[label + '_true'] for r in summaries)}"
            f" ({100 * (sum(r[label] for r in summaries) - sum(r[label + '_true'] for r in summaries)) / max(1, sum(r[label + '_true'] for r in summaries)):+.1f} %)"
            for label in LABELS
        )
        + f"; mean IDF1 {np.mean([r['idf1'] for r in summaries]):.3f} (ID precision {np.mean([r['idp'] for r in summaries]):.3f}, "
        f"ID recall {np.mean([r['idr'] for r in summaries]):.3f}), MOTA {np.mean([r['mota'] for r in summaries]):.3f} "
        f"(box recall {np.mean([r['recall'] for r in summaries]):.3f}, precision {np.mean([r['precision'] for r in summaries]):.3f})"
    )
    print_confusion(confusion)
    print("door line, each person's crossing: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    print(
        "door line, the detector's ceiling (people found on enough analysed frames to count): "
        + ", ".join(
            f"{d} {findable[d]}/{walking[d]} ({100 * (findable[d] - walking[d]) / max(1, walking[d]):+.1f} %)" for d in ("in", "out")
        )
    )
    print(
        "door line, the classifier's ceiling (those people, each under the class of their mean probabilities): "
        + "; ".join(
            f"{d} "
            + ", ".join(
                f"{label} {class_ceiling[d, label]}/{class_truth[d, label]}"
                f" ({100 * (class_ceiling[d, label] - class_truth[d, label]) / max(1, class_truth[d, label]):+.1f} %)"
                for label in LABELS
            )
            for d in ("in", "out")
        )
    )
    print(
        "door line, people shown (under half hidden) on enough analysed frames to count: "
        + ", ".join(
            f"{d} {showable[d]}/{walking[d]} ({100 * (showable[d] - walking[d]) / max(1, walking[d]):+.1f} %)" for d in ("in", "out")
        )
    )
    print(f"door line, all seeds, {rate:g} analysed fps (counted / true, error):")
    for d in ("in", "out"):
        got = {label: sum(r["crossed"][d][label] for r in summaries) for label in LABELS}
        true = {label: sum(r["crossed_true"][d][label] for r in summaries) for label in LABELS}
        n, n_true = sum(got.values()), sum(true.values())
        print(
            f"  {d}: people {n}/{n_true} ({100 * (n - n_true) / max(1, n_true):+.1f} %); "
            + ", ".join(
                f"{label} {got[label]}/{true[label]} ({100 * (got[label] - true[label]) / max(1, true[label]):+.1f} %)" for label in LABELS
            )
        )


if __name__ == "__main__":
    main()
