"""Frame sources for video: webcams, files, HTTP/RTSP streams and folders of frames.

A reader thread decodes into a small bounded queue, so decoding overlaps inference. Live sources
drop the oldest frame when the consumer falls behind (latency stays low); files never drop.
Streams that fail or stall are reopened with exponential back-off until `reconnect_timeout`.
A network stream is opened and read in a child process of its own (capture_process.py says why):
a camera that hangs holds up no other, and is killed at its deadline.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..imageio import IMAGE_EXTS, read_image
from ..queues import DropOldestQueue, Empty

STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass
class Frame:
    index: int  # position in the source (dropped frames count too)
    timestamp: float  # seconds: media time for files, time since start for live sources
    image: np.ndarray


@dataclass
class SourceStats:
    frames_read: int = 0
    frames_dropped: int = 0
    corrupt_frames: int = 0
    reconnects: int = 0
    frames_skipped: int = 0  # received but not converted: between two frames due at sample_fps
    decode_s: float = 0.0


class _End:
    def __init__(self, error: str | None = None):
        self.error = error


class FrameSource:
    """Iterate frames of one source; `error` tells why it ended early, if it did."""

    def __init__(
        self,
        spec: str,
        fps: float | None = None,
        queue_size: int = 4,
        stall_timeout: float = 5.0,
        reconnect_timeout: float = 30.0,
        log=None,
        sample_fps: float | None = None,
        cancel: threading.Event | None = None,
    ):
        """sample_fps: pass on only about this many frames per second (a site camera's
        detect_fps); the others are grabbed but not converted, or for a folder not read at all.
        cancel: when set, a stream's open in progress gives up at once (a site that stops)."""
        from .rate import RateSampler

        self.spec = spec
        self.kind = source_kind(spec)
        self.live = self.kind in ("webcam", "stream")
        self.stall_timeout = stall_timeout
        self.reconnect_timeout = reconnect_timeout
        self.stats = SourceStats()
        self._sampler = RateSampler(sample_fps) if sample_fps else None
        self.error: str | None = None
        self._log = log or (lambda msg: None)
        self._queue = DropOldestQueue(queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._files: list[Path] = []
        self._cap = None
        self._sample_fps = sample_fps
        self._cancel = cancel or self._stop
        self._child = None  # a stream's CaptureProcess
        self._child_counts = (0, 0)  # frames read and skipped by the children before this one
        self._last_counts = (0, 0)  # and by this one, as its last message said
        self.reconnecting = False  # True while a lost stream is being reopened (a camera's health says so)
        if self.kind == "folder":
            self._files = sorted(f for f in Path(spec).iterdir() if f.suffix.lower() in IMAGE_EXTS)
            if not self._files:
                raise ValueError(f"no images in folder {spec}")
            first = read_image(self._files[0])
            self.size = (first.shape[1], first.shape[0])
            self.fps = fps or 25.0
        else:
            if self.kind == "file" and not Path(spec).is_file():
                raise ValueError(f"no such video file: {spec}")
            opened = self._open_stream() if self.kind == "stream" else self._open()
            if self.kind == "stream" and opened is not None:
                self._child, (w, h), reported = opened
                self.size = (w, h)
                self.fps = fps or (reported if 1 <= reported <= 240 else 25.0)
                self.frame_count = 0
                return
            self._cap = opened
            if self._cap is None:
                raise ValueError(
                    f"cannot open video source {spec}"
                    + (" (is the address right, is the camera on?)" if self.live else " (not a video, or an unsupported format)")
                )
            w, h = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self.size = (w, h)
            reported = self._cap.get(cv2.CAP_PROP_FPS)
            self.fps = fps or (reported if 1 <= reported <= 240 else 25.0)
        self.frame_count = len(self._files) if self._files else int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def _open_stream(self):
        """(CaptureProcess, size, fps) once a child has opened the stream, or None when it could
        not, or gave no answer by its deadline (it is killed then), or `cancel` was set."""
        from .capture_process import START_S, CaptureProcess

        child = CaptureProcess(self.spec, self.stall_timeout, self._sample_fps)
        deadline = time.monotonic() + self.stall_timeout + START_S
        while not (self._cancel.is_set() or self._stop.is_set()) and time.monotonic() < deadline:
            msg = child.get(timeout=0.1)
            if msg is None:
                continue
            if msg.tag == "open":
                return child, msg.size, msg.fps
            break
        child.kill()
        return None

    def _open(self):
        if self.kind == "webcam":
            cap = cv2.VideoCapture(int(self.spec))
        else:
            cap = cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def __iter__(self) -> Iterator[Frame]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="maskwatch-reader", daemon=True)
            self._thread.start()
        # The reader has its own timeouts; this is the last guard against a hung backend.
        patience = self.stall_timeout + self.reconnect_timeout + 10 if self.live else 120
        while True:
            try:
                item = self._queue.get(timeout=patience)
            except Empty:
                self.error = f"no frame from {self.spec} for {patience:.0f} s; giving up"
                return
            if isinstance(item, _End):
                self.error = item.error
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._queue.clear()  # unblock a reader waiting on a full queue
        if self._child is not None:
            self._child.kill()
        if self._thread is not None:
            self._thread.join(timeout=self.stall_timeout + 1)
        if self._cap is not None and not (self._thread and self._thread.is_alive()):
            self._cap.release()

    # -- reader thread ----------------------------------------------------------------------
    def _put(self, item) -> None:
        if isinstance(item, Frame) and self.live:
            self._queue.put(item)  # live video wants the newest frame: the oldest is dropped
            self.stats.frames_dropped = self._queue.dropped
        else:
            self._queue.put_wait(item, self._stop)

    def _run(self) -> None:
        try:
            if self.kind == "folder":
                self._run_folder()
            elif self.kind == "file":
                self._run_file()
            elif self.kind == "stream":
                self._run_stream()
            else:
                self._run_live()
        except Exception as exc:  # a backend failure must end the run, not hang it
            self._put(_End(f"reading {self.spec} failed: {exc}"))

    def _run_folder(self) -> None:
        for i, f in enumerate(self._files):
            if self._stop.is_set():
                break
            if self._skipped(i / self.fps):
                continue
            t0 = time.perf_counter()
            try:
                image = read_image(f)
            except ValueError as exc:
                self.stats.corrupt_frames += 1
                self._log(f"skipped frame: {exc}")
                continue
            self.stats.decode_s += time.perf_counter() - t0
            self.stats.frames_read += 1
            self._put(Frame(i, i / self.fps, image))
        self._put(_End())

    def _skipped(self, ts: float) -> bool:
        """True for a frame that sample_fps does not want (counted as read and skipped)."""
        if self._sampler is None or self._sampler.due(ts):
            return False
        self.stats.frames_read += 1
        self.stats.frames_skipped += 1
        return True

    def _read(self, cap, ts_of) -> tuple[bool, np.ndarray | None, float | None]:
        """(ok, image, ts): ts is the frame's time, taken once it has arrived, or None for a frame
        skipped by sample_fps. A frame is always grabbed (video decoding needs every frame), but
        converted to BGR only when sample_fps wants it."""
        if self._sampler is None:
            ok, image = cap.read()
            return ok, image, ts_of()
        if not cap.grab():
            return False, None, ts_of()
        ts = ts_of()
        if self._skipped(ts):
            return True, None, None
        ok, image = cap.retrieve()
        return ok, image, ts

    def _run_file(self) -> None:
        cap, index, failures = self._cap, 0, 0
        while not self._stop.is_set():
            t0 = time.perf_counter()
            ok, image, ts = self._read(cap, lambda i=index: i / self.fps)
            if ts is None:
                index += 1
                continue
            if not ok or image is None:
                # A damaged frame mid-file: skip a few before deciding the file has ended.
                pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
                if self.frame_count and pos < self.frame_count - 1 and failures < 25:
                    failures += 1
                    self.stats.corrupt_frames += 1
                    index += 1
                    continue
                break
            failures = 0
            self.stats.decode_s += time.perf_counter() - t0
            self.stats.frames_read += 1
            self._put(Frame(index, index / self.fps, image))
            index += 1
        if self.frame_count and index < self.frame_count - 1:
            self._log(f"{self.spec} ended after {index} of {self.frame_count} frames (truncated or damaged)")
        self._put(_End())

    def _run_live(self) -> None:
        start = time.monotonic()
        index = 0
        cap = self._cap
        while not self._stop.is_set():
            t0 = time.perf_counter()
            ok, image, ts = self._read(cap, lambda: time.monotonic() - start) if cap is not None else (False, None, 0.0)
            if ts is None:
                index += 1
                continue
            if ok and image is not None:
                self.stats.decode_s += time.perf_counter() - t0
                self.stats.frames_read += 1
                self._put(Frame(index, ts, image))
                index += 1
                continue
            if self.kind == "webcam":
                self._put(_End(f"camera {self.spec} stopped sending frames"))
                return
            self._log(f"stream {self.spec} dropped or stalled; reconnecting")
            if cap is not None:
                cap.release()
            cap = self._reconnect()
            self._cap = cap
            if cap is None:
                if not self._stop.is_set():
                    self._put(_End(f"stream {self.spec} lost; no reconnection within {self.reconnect_timeout:.0f} s"))
                return
        self._put(_End())

    def _run_stream(self) -> None:
        """A network stream, read by its child process (module doc); a child that sends nothing
        for `stall_timeout` is killed and the stream reopened."""
        start = time.monotonic()
        index = 0
        while not self._stop.is_set():
            msg = self._child.get(timeout=self.stall_timeout)
            if self._stop.is_set():
                break
            if msg is not None and msg.tag == "frame":
                before_read, before_skipped = self._child_counts
                self.stats.frames_read = before_read + msg.read
                self.stats.frames_skipped = before_skipped + msg.skipped
                self._put(Frame(index, time.monotonic() - start, msg.image))
                index += msg.skipped + 1
                self._last_counts = (msg.read, msg.skipped)
                continue
            read, skipped = (msg.read, msg.skipped) if msg is not None and msg.read else self._last_counts
            self._child_counts = (self._child_counts[0] + read, self._child_counts[1] + skipped)
            self._last_counts = (0, 0)
            self._child.kill()
            self._log(f"stream {self.spec} {'stalled' if msg is None else 'dropped'}; reconnecting")
            child = self._reconnect()
            if child is None:
                if not self._stop.is_set():
                    self._put(_End(f"stream {self.spec} lost; no reconnection within {self.reconnect_timeout:.0f} s"))
                return
            self._child = child
        self._put(_End())

    def _reconnect(self):
        self.reconnecting = True
        try:
            return self._reconnect_until_deadline()
        finally:
            self.reconnecting = False

    def _reconnect_until_deadline(self):
        deadline = time.monotonic() + self.reconnect_timeout
        delay = 0.25
        while not self._stop.is_set() and time.monotonic() < deadline:
            if self.kind == "stream":
                opened = self._open_stream()
                cap = opened[0] if opened else None
            else:
                cap = self._open()
            if cap is not None:
                self.stats.reconnects += 1
                self._log(f"stream {self.spec} reconnected")
                return cap
            self._stop.wait(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 4.0)
        return None


def source_kind(spec: str) -> str:
    if spec.isdigit():
        return "webcam"
    if spec.lower().startswith(STREAM_PREFIXES):
        return "stream"
    if Path(spec).is_dir():
        return "folder"
    return "file"
