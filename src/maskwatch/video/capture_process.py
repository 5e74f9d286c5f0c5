"""A network camera's capture in a child process of its own.

Why a process: OpenCV's FFmpeg backend opens one capture at a time per process (a process-wide
lock around the open), and FFmpeg's own timeouts do not cover every way a server can hang (one
that accepts the connection and never answers held an open for 30 s and more). In one process,
ten such cameras kept a healthy one from ever opening, and SIGTERM waited for every open. Here
each stream opens and reads in its own child: a hung one holds up nothing but itself, and the
parent kills it at a deadline it sets (`CaptureProcess.kill`), whatever the backend is doing.

The child writes frames on its stdout, each as a fixed header and the raw BGR pixels; only the
frames that `sample_fps` wants are converted and sent, the others are grabbed and counted.

    python -m maskwatch.video.capture_process URL TIMEOUT_S [SAMPLE_FPS]
"""

from __future__ import annotations

import queue
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass

# tag (b"OPEN", b"FRAM", b"LOST", b"FAIL"), four numbers, payload length
_HEADER = struct.Struct("<4sqqqqq")
START_S = 10.0  # a child's interpreter and OpenCV import, on a busy 2-core board, before it opens


@dataclass
class Message:
    tag: str  # "open", "frame", "lost" (the stream ended or failed), "fail" (could not open)
    read: int = 0  # frames grabbed by this child so far
    skipped: int = 0  # of those, not converted (sample_fps)
    image: object = None  # the frame (numpy BGR) of a "frame"
    size: tuple[int, int] = (0, 0)  # (w, h) of an "open"
    fps: float = 0.0  # of an "open": the rate the stream reports
    reason: str = ""


class CaptureProcess:
    """One child capturing `url`; `get(timeout)` gives its next Message, or None when none came
    in time. `kill()` ends it at once (and any blocked read of the pipe)."""

    def __init__(self, url: str, timeout_s: float, sample_fps: float | None = None):
        argv = [sys.executable, "-m", "maskwatch.video.capture_process", url, repr(float(timeout_s))]
        if sample_fps:
            argv.append(repr(float(sample_fps)))
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # Room for a few frames: the pump always drains the pipe, the consumer keeps the newest.
        self._messages: queue.Queue = queue.Queue(maxsize=8)
        self._pump = threading.Thread(target=self._read, name="maskwatch-capture-pipe", daemon=True)
        self._pump.start()

    def _read(self) -> None:
        import numpy as np

        pipe = self._proc.stdout
        try:
            while True:
                head = pipe.read(_HEADER.size)
                if len(head) < _HEADER.size:
                    break
                tag, a, b, c, d, n = _HEADER.unpack(head)
                payload = pipe.read(n) if n else b""
                if len(payload) < n:
                    break
                tag = tag.decode()
                if tag == "OPEN":
                    msg = Message("open", size=(a, b), fps=c / 1000)
                elif tag == "FRAM":
                    msg = Message("frame", read=a, skipped=b, image=np.frombuffer(payload, np.uint8).reshape(c, d, 3))
                else:
                    msg = Message("lost" if tag == "LOST" else "fail", read=a, skipped=b, reason=payload.decode(errors="replace"))
                self._offer(msg)
        except (OSError, ValueError):
            pass
        self._offer(Message("lost", reason="the capture process ended"))

    def _offer(self, msg: Message) -> None:
        while True:  # never blocks the pump: the oldest frame makes room (a live camera wants the newest)
            try:
                self._messages.put_nowait(msg)
                return
            except queue.Full:
                try:
                    dropped = self._messages.get_nowait()
                except queue.Empty:
                    continue
                if dropped.tag != "frame":  # only frames may be dropped
                    self._messages.put_nowait(dropped)
                    return

    def get(self, timeout: float) -> Message | None:
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None


def _send(out, tag: bytes, a=0, b=0, c=0, d=0, payload: bytes = b"") -> None:
    out.write(_HEADER.pack(tag, a, b, c, d, len(payload)))
    if payload:
        out.write(payload)
    out.flush()


def _child(url: str, timeout_s: float, sample_fps: float | None) -> int:
    import time

    import cv2

    from .rate import RateSampler

    out = sys.stdout.buffer
    ms = int(timeout_s * 1000)
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
    if not cap.isOpened():
        _send(out, b"FAIL", payload=b"cannot open")
        return 1
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    _send(out, b"OPEN", int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(fps * 1000))
    sampler = RateSampler(sample_fps) if sample_fps else None
    start, read, skipped = time.monotonic(), 0, 0
    while True:
        if not cap.grab():
            _send(out, b"LOST", read, skipped, payload=b"the stream ended or stalled")
            return 0
        read += 1
        if sampler is not None and not sampler.due(time.monotonic() - start):
            skipped += 1
            continue
        ok, image = cap.retrieve()
        if not ok or image is None or image.ndim != 3 or image.shape[2] != 3:
            _send(out, b"LOST", read, skipped, payload=b"a frame could not be decoded")
            return 0
        image = image if image.flags["C_CONTIGUOUS"] else image.copy()
        _send(out, b"FRAM", read, skipped, image.shape[0], image.shape[1], image.tobytes())


if __name__ == "__main__":
    try:
        sys.exit(_child(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else None))
    except (BrokenPipeError, KeyboardInterrupt):  # the parent went away or killed us
        sys.exit(0)
