"""The annotated-video writer: encodes frames in its own thread, so encoding overlaps inference."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import cv2
import numpy as np


class VideoWriter:
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
        if self.error is None and self.frames:
            self.error = self._check_written()

    def _check_written(self) -> str | None:
        """OpenCV's writer reports no write error (a full disk, a file-size limit): the file is
        opened again and its frames counted, so a truncated video is an error, not a silent loss."""
        cap = cv2.VideoCapture(self.path)
        try:
            if not cap.isOpened():
                return f"the file is not playable (disk full or write error?) after {self.frames} frames"
            readable = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        finally:
            cap.release()
        if readable < self.frames * 0.98:
            return f"the file holds {readable} of the {self.frames} frames written (disk full or write error?)"
        return None
