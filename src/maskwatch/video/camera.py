"""One camera: frames -> step -> counters -> outputs (events, the annotated video, a live view),
with its health. `maskwatch video` runs one; a site runs many over one set of models."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..settings import VIDEO_DEFAULTS, VideoSettings
from ..sinks import SinkGroup
from .counting import PeopleCounter
from .step import FrameStep
from .tracking import TrackerConfig


@dataclass
class CameraOutputs:
    """Where one camera's results go (all optional)."""

    out: str | None = None  # the annotated video (.mp4 or .avi)
    show: bool = False  # a window
    blur: bool = False  # pixelate faces in what is written and shown
    on_frame: Callable[[np.ndarray, dict], None] | None = None  # annotated frame and live counts (web view)
    sinks: list = field(default_factory=list)  # event Sinks (sinks.event_sinks)


class Camera:
    """Feed it frames (`process`); `summary()` at any time, `close()` once at the end."""

    def __init__(
        self,
        detector,
        fps: float,
        outputs: CameraOutputs,
        video: VideoSettings = VIDEO_DEFAULTS,
        tracker: TrackerConfig | None = None,
        counters: list | None = None,
        log=print,
        detect_scale: float = 1.0,
        reviewer=None,
    ):
        self.step = FrameStep(detector, fps, video, tracker, detect_scale)
        self.reviewer = reviewer  # review.video.TrackReviewer: faces kept for a person's look
        self.people = PeopleCounter(detector.classifier.labels)
        self.counters = [self.people, *(counters or [])]
        self.outputs = outputs
        self.fps = fps
        self.events = SinkGroup(outputs.sinks, log=log)
        self.events.open()
        self._writer = None
        self._log = log
        self.timing = {"draw": 0.0}
        # Per-frame stage times, taken by outputs that keep histograms (Prometheus); bounded, so a
        # run with no such output keeps only the newest.
        self._frame_timings: deque = deque(maxlen=2000)
        self.last_ts = 0.0
        self._annotator = None
        self._frame_size: tuple[int, int] | None = None

    @property
    def draws(self) -> bool:
        return bool(self.outputs.out or self.outputs.show or self.outputs.on_frame)

    def process(self, image: np.ndarray, index: int, timestamp: float) -> str | None:
        """One frame; returns why to stop (the window was closed), or None."""
        before = dict(self.step.timing)
        step = self.step(image, index, timestamp)
        self._frame_size = (image.shape[1], image.shape[0])
        if step.detected:  # carried frames add nothing a counter has not seen
            for c in self.counters:
                self.events.write_all(c.observe(step.observed, index, timestamp, **self._geometry(c)))
            if self.reviewer is not None:
                self.reviewer.observe(image, step)
        self._end(step.ended)
        self.last_ts = timestamp
        timing = {k: v - before[k] for k, v in self.step.timing.items() if v > before[k]}
        stop = None
        if self.draws:
            t0 = time.perf_counter()
            stop = self._draw(image, step)
            timing["draw"] = time.perf_counter() - t0
            self.timing["draw"] += timing["draw"]
        self._frame_timings.append(timing)
        return stop

    def take_timings(self) -> list[dict]:
        """The per-frame stage times (seconds) since the last call."""
        out = []
        while self._frame_timings:
            out.append(self._frame_timings.popleft())
        return out

    def _geometry(self, counter) -> dict:
        return {"frame_size": self._frame_size} if getattr(counter, "needs_frame_size", False) else {}

    def _end(self, tracks) -> None:
        if tracks:
            for c in self.counters:
                self.events.write_all(c.end(tracks))
            if self.reviewer is not None:
                self.reviewer.end(tracks)

    def _draw(self, image: np.ndarray, step) -> str | None:
        import cv2

        from ..annotate import TrackAnnotator, blur_faces, draw_counts

        if self._annotator is None:
            self._annotator = TrackAnnotator()
        vis = image.copy()
        if self.outputs.blur:
            blur_faces(vis, step.hide)
        self._annotator.annotate(vis, step.faces)
        live = self.people.people()
        for c in self.counters[1:]:
            c.draw(vis, live)
        counts = self.people.counts()
        draw_counts(vis, counts)
        if self.outputs.on_frame:
            self.outputs.on_frame(vis, counts)
        if self.outputs.out:
            if self._writer is None:
                from .writer import VideoWriter

                self._writer = VideoWriter(self.outputs.out, self.fps, (vis.shape[1], vis.shape[0]))
            self._writer.write(vis)
        if self.outputs.show:
            cv2.imshow("maskwatch", vis)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                return "closed by user"
        return None

    @property
    def writer_error(self) -> str | None:
        return self._writer.error if self._writer else None

    def close(self, final_state=None) -> None:
        """End every track (counted), give the outputs that publish state the final state
        (`final_state()`, if given), flush the events, finish the video."""
        self._end(self.step.finish())
        if final_state is not None:
            self.events.update(final_state())
        self.events.close()
        if self._writer:
            self._writer.close()
        if self.outputs.show:
            import cv2

            cv2.destroyAllWindows()

    def summary(self) -> dict:
        frames = self.step.frames
        per = 1000 / max(frames, 1)
        live = self.people.people()
        out = {**self.people.counts(), "people_now": len(live), "per_minute": self.people.per_minute()}
        # `people` and each label above count the people on screen under their provisional label;
        # `final` only people whose label is final, `now` those on screen (sinks/figures.py).
        out["final"] = self.people.final_counts()
        out["now"] = self.people.now_counts()
        for c in self.counters[1:]:
            out.setdefault(c.kind, {})[c.name] = c.summary(live)
        out["events"] = self.events.written
        outputs = self.events.stats()
        outputs.pop("events", None)
        if "failed" in outputs:
            out["outputs_failed"] = outputs.pop("failed")
        out.update(outputs)  # e.g. "webhook": sent, failed, dropped
        out["timing_ms_per_frame"] = {
            **{k: round(v * per, 2) for k, v in self.step.timing.items()},
            "draw": round(self.timing["draw"] * per, 2),
            "encode": round(self._writer.encode_s * per, 2) if self._writer else 0.0,
        }
        return out
