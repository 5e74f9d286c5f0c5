"""Days of video in minutes: the tracker's per-frame time and the process's memory, flat or not.

    python benchmarks/bench_tracker_longrun.py --frames 200000 --people 20000

Fast-forward: the face detector and classifier are replaced by their outputs (boxes of people
walking across a 640x480 frame, a new one every few frames, about 4 on screen, class
probabilities with noise), so 200,000 frames take minutes. Everything after them runs as in
`maskwatch video`: ByteTrack, re-linking with colour histograms of a real frame, label
smoothing, events (drained each frame, as the video loop does), counts and the per-minute series.
Prints time per frame and RSS in windows along the run.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from maskwatch.classify import MaskClassifier
from maskwatch.detectors import FaceBoxes
from maskwatch.video.counting import PeopleCounter
from maskwatch.video.step import tracker_config
from maskwatch.video.tracking import FaceTracker, TrackerConfig

W, H, FPS = 640, 480, 25.0


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--on-screen-frames", type=int, default=40, help="frames each person is visible (default: %(default)s)")
    ap.add_argument("--window", type=int, default=1000, help="frames per timing window (default: %(default)s)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    every = args.frames / args.people
    starts = (np.arange(args.people) * every).astype(np.int64)
    rows = rng.uniform(40, H - 160, args.people)
    labels = rng.integers(0, 3, args.people)
    frame_img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)  # a real image for the colour histograms
    # The settings `maskwatch video` runs with (class weights from the shipped classifier).
    tracker = FaceTracker(fps=FPS, config=tracker_config(MaskClassifier(), TrackerConfig()))
    counter = PeopleCounter()  # fed as video.camera feeds it
    report_at = sorted({args.window, 10_000, 50_000, 100_000, args.frames} & set(range(args.window, args.frames + 1)))
    t_window, ended, first = 0.0, 0, 0
    print(f"{args.frames} frames, {args.people} people ({args.on_screen_frames} frames each on screen)")
    print(f"{'frame':>8s} {'ms/frame':>9s} {'RSS MB':>8s} {'people counted':>15s} {'open tracks':>12s}")
    for f in range(args.frames):
        while first < args.people and starts[first] + args.on_screen_frames <= f:
            first += 1
        live = [k for k in range(first, min(args.people, first + 16)) if starts[k] <= f < starts[k] + args.on_screen_frames]
        xs = np.array([-80 + (f - starts[k]) * (W + 80) / args.on_screen_frames for k in live])
        xyxy = np.array([[x, rows[k], x + 80, rows[k] + 100] for x, k in zip(xs, live)], np.float32).reshape(-1, 4)
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, W)
        found = FaceBoxes(xyxy, np.full(len(live), 0.9, np.float32), np.zeros((len(live), 5, 2), np.float32))
        probs = np.full((len(live), 3), 0.05, np.float32)
        probs[np.arange(len(live)), labels[live]] = 0.9
        probs += rng.normal(0, 0.05, probs.shape).astype(np.float32)
        t0 = time.perf_counter()
        tracker.update(found, lambda r, p=probs: p[r], f, f / FPS, frame_img)
        events = counter.observe(tracker.observed, f, f / FPS) + counter.end(tracker.pop_ended())
        counter.counts()  # drawn on every frame in the video loop
        ended += len(events)
        t_window += time.perf_counter() - t0
        if (f + 1) % args.window == 0:
            if f + 1 in report_at:
                print(
                    f"{f + 1:8d} {1000 * t_window / args.window:9.3f} {rss_mb():8.1f} {counter.counts()['people']:15d} {len(tracker.tracks):12d}",
                    flush=True,
                )
            t_window = 0.0
    tracker.finish()
    ended += len(counter.end(tracker.pop_ended()))
    print(
        f"end: {counter.counts()['people']} people counted of {args.people}; {len(counter.per_minute())} minutes in the series; {ended} events"
    )


if __name__ == "__main__":
    main()
