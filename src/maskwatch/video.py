"""Real-time video: read -> detect -> classify -> track -> draw -> encode, with counts and events.

Decoding runs in the source's reader thread and encoding in a writer thread; inference (ONNX
Runtime, which releases the GIL) runs in the caller's thread, so the three overlap.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .annotate import TrackAnnotator, blur_faces, draw_counts
from .imageio import is_url
from .sources import FrameSource
from .tracking import FaceTracker, TrackerConfig, load_bytetrack

# Video faces are usually larger than in crowd photos, and every millisecond counts at 30 fps.
VIDEO_UPSCALE = 1.0
# Video labels tracks with the classifier's mask classes only (its face probability is not used),
# so the face score is the detector's alone, and its threshold stays the detector's 0.5.
VIDEO_FACE_THRESHOLD = 0.5


@dataclass
class VideoConfig:
    source: str
    out: str | None = None
    events: str | None = None
    webhook: str | None = None  # POST each event as JSON to this http(s) URL
    summary: str | None = None
    show: bool = False
    blur: bool = False
    detect_every: int = 1
    max_frames: int | None = None
    fps: float | None = None  # for folders of frames, or to override a file's reported rate
    stall_timeout: float = 5.0
    reconnect_timeout: float = 30.0
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    # "balanced": people are labelled as if every class were equally common (the classifier's
    # training mix divided out); "trained": with the classifier's probabilities as they are.
    class_prior: str = "balanced"
    on_frame: Callable[[np.ndarray, dict], None] | None = None  # annotated frame and live counts (web view)
    stop: threading.Event | None = None  # set by another thread to end the run


class _Writer:
    """Encodes frames in its own thread; a bounded queue, never dropping (output must be whole)."""

    def __init__(self, path: str, fps: float, size: tuple[int, int]):
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.lower().endswith(".avi") else "mp4v"))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._vw = cv2.VideoWriter(path, fourcc, fps, size)
        if not self._vw.isOpened():
            raise ValueError(f"cannot write video {path} (use .mp4 or .avi)")
        self.size = size
        self.path = path
        self.error: str | None = None
        self.frames = 0
        self.encode_s = 0.0
        self._q: queue.Queue = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="maskwatch-writer", daemon=True)
        self._thread.start()

    def write(self, image: np.ndarray) -> None:
        if self.error is not None:
            raise ValueError(f"cannot write video {self.path}: {self.error}")
        if (image.shape[1], image.shape[0]) != self.size:  # a stream that changed resolution
            image = cv2.resize(image, self.size)
        self._q.put(image)

    def _run(self) -> None:
        while True:
            image = self._q.get()
            if image is None:
                return
            if self.error is not None:
                continue  # keep draining, so the loop never blocks on a full queue
            t0 = time.perf_counter()
            try:
                self._vw.write(image)
            except Exception as exc:  # disk full, codec failure: reported by the next write()
                self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                continue
            self.encode_s += time.perf_counter() - t0
            self.frames += 1

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()
        self._vw.release()


class _Events:
    """JSON Lines, flushed per line so other systems can tail it and a crash loses nothing; and/or
    each event POSTed to a webhook from a background thread."""

    def __init__(self, path: str | None, webhook: str | None = None, log=print):
        self._fh = None
        self._poster = None
        if webhook:
            from .webhook import WebhookPoster

            self._poster = WebhookPoster(webhook, log=log)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "w", encoding="utf-8")
        self.count = 0
        self.webhook_stats: dict | None = None

    def write(self, events: list[dict]) -> None:
        self.count += len(events)
        if self._fh:
            for e in events:
                self._fh.write(json.dumps(e) + "\n")
            self._fh.flush()
        if self._poster and events:
            self._poster.post(events)

    def close(self) -> None:
        if self._fh:
            self._fh.close()
        if self._poster:
            self.webhook_stats = self._poster.close()


CLASS_PRIORS = ("balanced", "trained")


def tracker_config(classifier, base: TrackerConfig, class_prior: str = "balanced", labels_from: str = "classifier") -> TrackerConfig:
    """The tracker settings video runs with: `base`, plus class weights from the classifier's
    training mix with class_prior="balanced". The shipped classifier drew mask_worn_incorrectly
    about 4x less often than with_mask, so unsure faces leaned away from it: on bench_counting.py
    (val-free classifier) that class was counted 50 / 60 on both the tuning and the held-out
    clips, and 58 / 60 and 57 / 60 balanced (docs/experiments.md). Labels from a detector's mask
    head (`labels_from` other than "classifier") follow another training mix: left as they are."""
    if class_prior not in CLASS_PRIORS:
        raise ValueError(f"class prior must be one of {', '.join(CLASS_PRIORS)}, not {class_prior!r}")
    if class_prior == "trained" or base.class_weights is not None or labels_from != "classifier":
        return base
    w = classifier.balancing_weights()
    return base if w is None else replace(base, class_weights=tuple(float(v) for v in w))


def run_video(detector, cfg: VideoConfig, log=print) -> dict:
    """Process a whole source; returns the summary (also written to cfg.summary). Build the
    detector with video's settings, as `maskwatch video` does: upscale=VIDEO_UPSCALE, flip=False,
    conf=VIDEO_FACE_THRESHOLD (video does not use the classifier's face probability)."""
    if cfg.detect_every < 1:
        raise ValueError("--detect-every must be at least 1")
    # Settled before the source opens: a bad class prior is one line, and a camera stays free.
    track_cfg = tracker_config(detector.classifier, cfg.tracker, cfg.class_prior, getattr(detector, "labels_from", "classifier"))
    if cfg.out and not cfg.out.lower().endswith((".mp4", ".avi")):
        raise ValueError(f"--out {cfg.out}: use a .mp4 or .avi file name")
    if cfg.show and os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ValueError("--show needs a display (no DISPLAY set); run without --show to process headless")
    if cfg.webhook and not is_url(cfg.webhook):  # before the source opens (a camera stays free)
        raise ValueError(f"--webhook needs an http:// or https:// URL, got {cfg.webhook!r}")
    load_bytetrack()  # a missing extra is one line, before a camera is opened
    source = FrameSource(cfg.source, fps=cfg.fps, stall_timeout=cfg.stall_timeout, reconnect_timeout=cfg.reconnect_timeout, log=log)
    tracker = FaceTracker(fps=source.fps, config=track_cfg, labels=detector.classifier.labels)
    annotator = TrackAnnotator()
    writer = None
    events = _Events(cfg.events, cfg.webhook, log=log)
    timing = {"detect": 0.0, "classify": 0.0, "track": 0.0, "draw": 0.0}
    processed = 0
    stopped = "end of stream"
    wall0 = time.perf_counter()
    last_ts = 0.0
    last_found: list = []
    try:
        for frame in source:
            if cfg.max_frames and processed >= cfg.max_frames:
                stopped = "max frames reached"
                break
            if cfg.stop is not None and cfg.stop.is_set():
                stopped = "stopped"
                break
            image = frame.image
            t0 = time.perf_counter()
            cls_s = 0.0
            if processed % cfg.detect_every == 0:
                found = detector.faces.detect(image)
                # Privacy covers every detected face, tracked or not yet.
                hide = last_found = list(found.xyxy)
                t1 = time.perf_counter()

                def classify(rows, image=image, found=found):
                    nonlocal cls_s
                    c0 = time.perf_counter()
                    p = detector.class_probs(image, found, rows)
                    cls_s += time.perf_counter() - c0
                    return p

                tracked = tracker.update(found, classify, frame.index, frame.timestamp, image)
            else:
                t1 = time.perf_counter()
                tracked = tracker.carry(frame.index, frame.timestamp)
                # Carried tracks, and the last detections (faces not yet tracked move little in a frame or two).
                hide = [t.box for t in tracked] + last_found
            t3 = time.perf_counter()
            events.write(tracker.events)
            tracker.events.clear()
            if cfg.out or cfg.show or cfg.on_frame:
                vis = image.copy()
                if cfg.blur:
                    blur_faces(vis, hide)
                annotator.annotate(vis, tracked)
                counts = tracker.counts()
                draw_counts(vis, counts)
                if cfg.on_frame:
                    cfg.on_frame(vis, counts)
                if cfg.out and writer is None:
                    writer = _Writer(cfg.out, source.fps, (vis.shape[1], vis.shape[0]))
                if writer:
                    writer.write(vis)
                if cfg.show:
                    cv2.imshow("maskwatch", vis)
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        stopped = "closed by user"
                        break
            t4 = time.perf_counter()
            for k, dt in zip(timing, (t1 - t0, cls_s, t3 - t1 - cls_s, t4 - t3)):
                timing[k] += dt
            processed += 1
            last_ts = frame.timestamp
    except KeyboardInterrupt:
        stopped = "interrupted"
    except ValueError as exc:
        if writer is None or writer.error is None:
            raise
        stopped = f"error: {exc}"  # the output video failed; counts, events and summary are still written
        log(f"maskwatch: {exc}")
    finally:
        source.close()
        tracker.finish()
        events.write(tracker.events)
        tracker.events.clear()
        events.close()
        if writer:
            writer.close()
        if cfg.show:
            cv2.destroyAllWindows()
    if source.error and stopped == "end of stream":
        stopped = f"error: {source.error}"
    wall = time.perf_counter() - wall0
    per = 1000 / max(processed, 1)
    summary = {
        "source": cfg.source,
        "stopped": stopped,
        "frames": processed,
        "frames_dropped": source.stats.frames_dropped,
        "corrupt_frames": source.stats.corrupt_frames,
        "reconnects": source.stats.reconnects,
        "video_seconds": round(last_ts, 3),
        "wall_seconds": round(wall, 3),
        "fps": round(processed / wall, 2) if wall > 0 else None,
        **tracker.counts(),
        "per_minute": tracker.per_minute(),
        "events": events.count,
        **({"webhook": events.webhook_stats} if events.webhook_stats else {}),
        "timing_ms_per_frame": {
            "decode": round(source.stats.decode_s * per, 2),
            **{k: round(v * per, 2) for k, v in timing.items()},
            "encode": round(writer.encode_s * per, 2) if writer else 0.0,
        },
        "settings": {
            "detect_every": cfg.detect_every,
            "upscale": detector.faces.upscale,
            "conf": detector.faces.score_threshold,
            "blur": cfg.blur,
            # the weights each class's probability was multiplied by (None: as the classifier gave them)
            "class_prior": cfg.class_prior,
            "class_weights": [round(w, 4) for w in track_cfg.class_weights] if track_cfg.class_weights else None,
            "source_fps": source.fps,
            "size": list(source.size),
        },
        "model": detector.info(),
    }
    if cfg.summary:
        path = Path(cfg.summary)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(summary, indent=2))
        os.replace(tmp, path)  # a reader never sees half a summary
    return summary
