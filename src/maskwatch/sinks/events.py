"""Video events as JSON Lines: one line per event, flushed, so other systems can tail the file and
a crash loses nothing but the line being written."""

from __future__ import annotations

import json
from pathlib import Path

from .base import Sink


class EventsJsonl(Sink):
    name = "events"

    def __init__(self, path: str):
        self.path = path
        self._fh = None
        self.count = 0

    def open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", encoding="utf-8")

    def write(self, event: dict) -> None:
        # One write per line: a full disk tears at most this line, and raises here.
        self._fh.write(json.dumps(event) + "\n")
        self._fh.flush()
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()

    def stats(self) -> dict:
        return {"path": self.path, "written": self.count}
