"""Posting video events to an HTTP endpoint (alerting: chat hooks, home automation, a server).

Each event is POSTed as one JSON object, in order, from a background thread: a slow or dead
endpoint must never stall the video loop. The queue is bounded; when it is full the oldest
waiting event is dropped and counted, so memory stays flat on a long stream.
"""

from __future__ import annotations

import threading

from ..imageio import is_url
from ..queues import DropOldestQueue
from .base import Sink

TIMEOUT_S = 5.0
QUEUE_SIZE = 1000
_STOP = object()


class WebhookSink(Sink):
    name = "webhook"

    def __init__(self, url: str, log=print, timeout: float = TIMEOUT_S, queue_size: int = QUEUE_SIZE):
        if not is_url(url):
            raise ValueError(f"--webhook needs an http:// or https:// URL, got {url!r}")
        self.url, self.timeout, self._log = url, timeout, log
        self.sent = self.failed = 0
        self._queue = DropOldestQueue(queue_size)
        self._warned = False
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def open(self) -> None:
        self._thread = threading.Thread(target=self._run, name="maskwatch-webhook", daemon=True)
        self._thread.start()

    def write(self, event: dict) -> None:
        self._queue.put(event)  # never waits: a full queue drops its oldest event (counted)

    def post(self, events: list[dict]) -> None:
        for event in events:
            self.write(event)

    def close(self, wait: float = 10.0) -> dict:
        """Send what is queued (for up to `wait` seconds), stop, and return the counts."""
        if self._thread is not None:
            self._queue.put_wait(_STOP, timeout=wait)
            self._thread.join(wait)
        return self.stats()

    def stats(self) -> dict:
        return {"url": self.url, "sent": self.sent, "failed": self.failed, "dropped": self.dropped}

    def _run(self) -> None:
        import httpx

        from .._version import __version__

        # One client for the stream's life: connections are kept alive between events.
        with httpx.Client(timeout=self.timeout, headers={"User-Agent": f"maskwatch/{__version__}"}) as client:
            while True:
                event = self._queue.get()
                if event is _STOP:
                    return
                self._send(client, event)

    def _send(self, client, event: dict) -> None:
        import time

        deadline = time.monotonic() + self.timeout
        try:
            with client.stream("POST", self.url, json=event) as resp:
                for _ in resp.iter_raw():  # the answer is read whole, within the same deadline
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no complete answer within {self.timeout:g} s")
                if resp.status_code >= 400:
                    raise ValueError(f"HTTP {resp.status_code}")
            self.sent += 1
        # Refused, reset, timed out, an endpoint that answers something that is not HTTP, and
        # anything else are counted alike: the sender thread must outlive any one event.
        except Exception as exc:
            self.failed += 1
            if not self._warned:  # one line, not one per event; the summary has the count
                self._warned = True
                self._log(
                    f"maskwatch: webhook {self.url} failed ({exc or type(exc).__name__}); events go on, failures are counted in the summary"
                )
