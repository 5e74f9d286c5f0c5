"""The one bounded queue of every background thread: a frame reader, a webhook or MQTT sender.

A live camera or an alert endpoint must never make the video loop wait, and a long run must not
grow memory: when the queue is full, `put` drops the oldest waiting item and counts it. Where
nothing may be lost (the frames of a file), `put_wait` blocks until there is room or `stop` is set.
"""

from __future__ import annotations

import queue
import threading
import time

Empty = queue.Empty


class DropOldestQueue:
    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"queue size must be at least 1, got {maxsize}")
        self._q: queue.Queue = queue.Queue(maxsize)
        self.dropped = 0

    def put(self, item) -> None:
        """Never blocks: when full, the oldest item makes room (counted in `dropped`)."""
        while True:
            try:
                self._q.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._q.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def put_wait(self, item, stop: threading.Event | None = None, timeout: float | None = None, poll: float = 0.2) -> bool:
        """Blocks until there is room (True), or until `stop` is set or `timeout` seconds pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while stop is None or not stop.is_set():
            wait = poll if deadline is None else min(poll, deadline - time.monotonic())
            if wait <= 0:
                return False
            try:
                self._q.put(item, timeout=wait)
                return True
            except queue.Full:
                continue
        return False

    def get(self, timeout: float | None = None):
        """The oldest item; raises Empty after `timeout` seconds."""
        return self._q.get(timeout=timeout)

    def clear(self) -> None:
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass

    def __len__(self) -> int:
        return self._q.qsize()
