"""`maskwatch video` as a library call: one source -> one Camera -> summary.

Decoding runs in the source's reader thread and encoding in a writer thread; inference (ONNX
Runtime, which releases the GIL) runs in the caller's thread, so the three overlap.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..imageio import is_url
from ..settings import VideoSettings
from .camera import Camera, CameraOutputs
from .sources import FrameSource
from .tracking import TrackerConfig, load_bytetrack

STATE_EVERY_S = 1.0


@dataclass
class VideoConfig:
    source: str
    out: str | None = None
    events: str | None = None
    webhook: str | None = None  # POST each event as JSON to this http(s) URL
    mqtt: object | None = None  # a sinks.mqtt.MqttTarget: state, events, Home Assistant discovery
    metrics_port: int | None = None  # Prometheus /metrics on this port
    metrics_host: str = "127.0.0.1"
    name: str | None = None  # the camera's name in MQTT topics and metrics (default: from the source)
    summary: str | None = None
    show: bool = False
    blur: bool = False
    video: VideoSettings = field(default_factory=VideoSettings)
    max_frames: int | None = None
    fps: float | None = None  # for folders of frames, or to override a file's reported rate
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    counters: list = field(default_factory=list)  # line and zone counters (counting.py)
    on_frame: Callable[[np.ndarray, dict], None] | None = None  # annotated frame and live counts (web view)
    stop: threading.Event | None = None  # set by another thread (or a signal, cli.video) to end the run
    sinks: list = field(default_factory=list)  # more outputs (Sinks), e.g. the web server's metrics
    reviewer: object | None = None  # a review.video.TrackReviewer (--review STORE)


def camera_name(source: str) -> str:
    """A name for one video's camera in MQTT topics and metrics: webcam0, a file's stem, a URL's host."""
    from urllib.parse import urlsplit

    if source.isdigit():
        return f"webcam{source}"
    if is_url(source) or "://" in source:
        return urlsplit(source).hostname or "stream"
    return Path(source.rstrip("/")).stem or "camera"


def check_outputs(cfg: VideoConfig) -> None:
    """Everything that can be refused before a camera is opened (it stays free), in one line."""
    from ..paths import refuse_collisions

    refuse_collisions([("--source", cfg.source)], [("--out", cfg.out), ("--events", cfg.events), ("--summary", cfg.summary)])
    if cfg.out:
        if not cfg.out.lower().endswith((".mp4", ".avi")):
            raise ValueError(f"--out {cfg.out}: use a .mp4 or .avi file name")
        parent = Path(cfg.out).resolve().parent
        probe = parent
        while not probe.exists():
            probe = probe.parent
        if not os.access(probe, os.W_OK) or (parent.exists() and not os.access(parent, os.W_OK)):
            raise ValueError(f"--out {cfg.out}: cannot write in {parent}")
    if cfg.show and os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ValueError("--show needs a display (no DISPLAY set); run without --show to process headless")
    if cfg.webhook and not is_url(cfg.webhook):
        raise ValueError(f"--webhook needs an http:// or https:// URL, got {cfg.webhook!r}")


def run_video(detector, cfg: VideoConfig, log=print) -> dict:
    """Process a whole source; returns the summary (also written to cfg.summary). Build the
    detector with video's settings, as `maskwatch video` does: Detector(settings.VIDEO)."""
    from ..sinks import event_sinks

    check_outputs(cfg)
    name = cfg.name or camera_name(cfg.source)
    load_bytetrack()  # a missing extra is one line, before a camera is opened
    source = FrameSource(
        cfg.source, fps=cfg.fps, stall_timeout=cfg.video.stall_timeout, reconnect_timeout=cfg.video.reconnect_timeout, log=log
    )
    try:
        sinks = event_sinks(
            cfg.events, cfg.webhook, cfg.mqtt, cfg.metrics_port, cfg.metrics_host, detector.classifier.labels, name, log=log
        ) + list(cfg.sinks)
        outputs = CameraOutputs(cfg.out, cfg.show, cfg.blur, cfg.on_frame, sinks)
        camera = Camera(detector, source.fps, outputs, cfg.video, cfg.tracker, cfg.counters, log=log, reviewer=cfg.reviewer)
    except BaseException:
        source.close()
        raise
    stopped = "end of stream"
    wall0 = time.perf_counter()

    def live_state(state: str = "running") -> dict:
        wall = time.perf_counter() - wall0
        health = {
            "state": state,
            "frames_read": source.stats.frames_read,
            "frames_analysed": camera.step.frames,
            "frames_dropped": source.stats.frames_dropped,
            "corrupt_frames": source.stats.corrupt_frames,
            "reconnects": source.stats.reconnects,
            "fps": round(camera.step.frames / wall, 3) if wall > 0 else 0.0,
        }
        cam = {**camera.summary(), "health": health}
        decode = round(source.stats.decode_s * 1000 / max(camera.step.frames, 1), 2)
        cam["timing_ms_per_frame"] = {"decode": decode, **cam["timing_ms_per_frame"]}
        return {"cameras": {name: cam}, "outputs": camera.events.stats(), "frame_timings": {name: camera.take_timings()}}

    next_update = 0.0
    try:
        for frame in source:
            if cfg.max_frames and camera.step.frames >= cfg.max_frames:
                stopped = "max frames reached"
                break
            if cfg.stop is not None and cfg.stop.is_set():
                stopped = getattr(cfg.stop, "reason", "stopped")  # "interrupted" for Ctrl-C (cli.video)
                break
            try:
                reason = camera.process(frame.image, frame.index, frame.timestamp)
            except ValueError as exc:
                if camera.writer_error is None:
                    raise
                stopped = f"error: {exc}"  # the output video failed; counts, events and summary are still written
                log(f"maskwatch: {exc}")
                break
            if reason:
                stopped = reason
                break
            if time.perf_counter() >= next_update:  # MQTT and Prometheus get the state once a second
                camera.events.update(live_state())
                next_update = time.perf_counter() + STATE_EVERY_S
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        source.close()
        camera.close(final_state=lambda: live_state("ended"))
    if source.error and stopped == "end of stream":
        stopped = f"error: {source.error}"
    if camera.writer_error and not stopped.startswith("error"):
        stopped = f"error: cannot write video {cfg.out}: {camera.writer_error}"
    wall = time.perf_counter() - wall0
    frames = camera.step.frames
    per = 1000 / max(frames, 1)
    cam = camera.summary()
    summary = {
        "source": cfg.source,
        "camera": name,
        "stopped": stopped,
        "frames": frames,
        "frames_dropped": source.stats.frames_dropped,
        "corrupt_frames": source.stats.corrupt_frames,
        "reconnects": source.stats.reconnects,
        "video_seconds": round(camera.last_ts, 3),
        "wall_seconds": round(wall, 3),
        "fps": round(frames / wall, 2) if wall > 0 else None,
        **{k: v for k, v in cam.items() if k != "timing_ms_per_frame"},
        "timing_ms_per_frame": {"decode": round(source.stats.decode_s * per, 2), **cam["timing_ms_per_frame"]},
        "settings": {
            **detector.settings.to_dict(),
            **cfg.video.to_dict(),
            "blur": cfg.blur,
            # the weights each class's probability was multiplied by (None: as the classifier gave them)
            "class_weights": [round(w, 4) for w in camera.step.tracker_config.class_weights]
            if camera.step.tracker_config.class_weights
            else None,
            "source_fps": source.fps,
            "size": list(source.size),
        },
        "model": detector.info(),
    }
    if cfg.summary:
        write_json_atomic(cfg.summary, summary)
    return summary


def write_json_atomic(path: str, data: dict) -> None:
    """A reader never sees half a file: written beside it, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
