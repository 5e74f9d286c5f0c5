"""Posting video events to an HTTP endpoint (alerting: chat hooks, home automation, a server).

Each event is POSTed as one JSON object, in order, from a background thread: a slow or dead
endpoint must never stall the video loop. The queue is bounded; when it is full the oldest
waiting event is dropped and counted, so memory stays flat on a long stream.
"""
from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.request

from .imageio import is_url

TIMEOUT_S = 5.0
QUEUE_SIZE = 1000
_STOP = object()


class WebhookPoster:
    def __init__(self, url: str, log=print, timeout: float = TIMEOUT_S, queue_size: int = QUEUE_SIZE):
        if not is_url(url):
            raise ValueError(f"--webhook needs an http:// or https:// URL, got {url!r}")
        self.url, self.timeout, self._log = url, timeout, log
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.Queue = queue.Queue(queue_size)
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="maskwatch-webhook", daemon=True)
        self._thread.start()

    def post(self, events: list[dict]) -> None:
        for event in events:
            while True:
                try:
                    self._queue.put_nowait(event)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def close(self, wait: float = 10.0) -> dict:
        """Send what is queued (for up to `wait` seconds), stop, and return the counts."""
        try:
            self._queue.put(_STOP, timeout=wait)
        except queue.Full:
            pass
        self._thread.join(wait)
        return {"url": self.url, "sent": self.sent, "failed": self.failed, "dropped": self.dropped}

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is _STOP:
                return
            self._send(event)

    def _send(self, event: dict) -> None:
        from . import __version__

        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": f"maskwatch/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                resp.read()
            self.sent += 1
        # URLError, OSError, http.client errors (an endpoint that answers something that is not
        # HTTP) and anything else are counted alike: the sender thread must outlive any one event.
        except Exception as exc:
            self.failed += 1
            if not self._warned:  # one line, not one per event; the summary has the count
                self._warned = True
                reason = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else getattr(exc, "reason", exc)
                self._log(f"maskwatch: webhook {self.url} failed ({reason}); events go on, failures are counted in the summary")
