"""One frame in, tracked faces out: detect (every `detect_every` frames), classify the faces the
tracker asks about, track. Used by `maskwatch video`, the live view, the site and the benchmarks,
so that none of them copies the loop."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..detectors import FaceBoxes
from ..settings import VIDEO_DEFAULTS, VideoSettings
from ..types import Face
from .tracking import FaceTracker, Track, TrackerConfig


@dataclass
class Step:
    """What one frame gave: its tracked faces, the boxes to hide (--blur), the tracks seen and
    the tracks that ended (for counters)."""

    index: int
    timestamp: float
    faces: list[Face]
    hide: list  # boxes to pixelate: every detected face, tracked or not yet
    observed: list[Track] = field(default_factory=list)
    ended: list[Track] = field(default_factory=list)
    detected: bool = True


def tracker_config(classifier, base: TrackerConfig, class_prior: str = "balanced", labels_from: str = "classifier") -> TrackerConfig:
    """The tracker settings video runs with: `base`, plus class weights from the classifier's
    training mix with class_prior="balanced". The shipped classifier drew mask_worn_incorrectly
    about 4x less often than with_mask, so unsure faces leaned away from it: on bench_counting.py
    (val-free classifier) that class was counted 50 / 60 on both the tuning and the held-out
    clips, and 58 / 60 and 57 / 60 balanced (docs/experiments.md). Labels from a detector's mask
    head (`labels_from` other than "classifier") follow another training mix: left as they are."""
    VideoSettings(class_prior=class_prior)  # one-line error for an unknown prior
    if class_prior == "trained" or base.class_weights is not None or labels_from != "classifier":
        return base
    w = classifier.balancing_weights()
    return base if w is None else replace(base, class_weights=tuple(float(v) for v in w))


class FrameStep:
    """detector: a pipeline.Detector built with video's settings (settings.VIDEO)."""

    def __init__(
        self, detector, fps: float, video: VideoSettings = VIDEO_DEFAULTS, tracker: TrackerConfig | None = None, detect_scale: float = 1.0
    ):
        """detect_scale: detection on the frame shrunk by this factor (Detector.find_faces); the
        classifier still crops the full frame."""
        self.detector = detector
        self.detect_scale = detect_scale
        self.video = video
        self.tracker_config = tracker_config(detector.classifier, tracker or TrackerConfig(), video.class_prior, detector.labels_from)
        self.tracker = FaceTracker(fps=fps, config=self.tracker_config, labels=detector.classifier.labels)
        self.timing = {"detect": 0.0, "classify": 0.0, "track": 0.0}
        self.frames = 0
        self._last_found: list = []

    def __call__(self, image: np.ndarray, index: int, timestamp: float) -> Step:
        if self.frames % self.video.detect_every:
            return self.carry(index, timestamp)
        t0 = time.perf_counter()
        found = self.detector.find_faces(image, self.detect_scale)
        self.timing["detect"] += time.perf_counter() - t0
        return self.track(image, index, timestamp, found)

    def track(self, image: np.ndarray, index: int, timestamp: float, found: FaceBoxes, probs: np.ndarray | None = None) -> Step:
        """Track faces already found (`probs`: their class probabilities, if known already)."""
        t0 = time.perf_counter()
        spent = 0.0

        def classify(rows):
            nonlocal spent
            if probs is not None:
                return probs[rows]
            c0 = time.perf_counter()
            p = self.detector.probs_and_parts(image, found, rows)
            spent += time.perf_counter() - c0
            return p

        faces = self.tracker.update(found, classify, index, timestamp, image)
        self.timing["classify"] += spent
        self.timing["track"] += time.perf_counter() - t0 - spent
        self._last_found = list(found.xyxy)
        self.frames += 1
        return Step(index, timestamp, faces, list(self._last_found), list(self.tracker.observed), self.tracker.pop_ended())

    def carry(self, index: int, timestamp: float) -> Step:
        """A frame without detection: live tracks carried on at their velocity."""
        t0 = time.perf_counter()
        faces = self.tracker.carry(index, timestamp)
        self.timing["track"] += time.perf_counter() - t0
        self.frames += 1
        # Carried tracks, and the last detections (faces not yet tracked move little in a frame or two).
        return Step(index, timestamp, faces, [f.box for f in faces] + self._last_found, detected=False)

    def finish(self) -> list[Track]:
        """End every open track (end of stream); returns them, for the counters."""
        self.tracker.finish()
        return self.tracker.pop_ended()
