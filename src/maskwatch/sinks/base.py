"""The one interface of every output: open, write, close, used as a context manager.

Photo results (`ImageResult`) and video events (dicts) both leave through a Sink; a new output
(MQTT, a database) is one new file with a Sink subclass. `SinkGroup` writes to several at once
and keeps going when one of them fails (a full disk under the events file must not take the
summary or the video down): the failure is reported once and counted.
"""

from __future__ import annotations


class Sink:
    """Subclasses implement write(); open() and close() when they hold a file or a thread."""

    name = "sink"

    def open(self) -> None:
        pass

    def write(self, record) -> None:
        raise NotImplementedError

    def update(self, state: dict) -> None:
        """The live state, about once a second: a site summary's shape ({"cameras": {NAME: ...},
        ...}). Outputs that publish state (MQTT, Prometheus) implement it; the others ignore it."""

    def close(self) -> None:
        pass

    def stats(self) -> dict | None:
        """What the summary records about this output (None: nothing)."""
        return None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


class SinkGroup(Sink):
    """Writes each record to every sink; a sink that raises is closed, reported and skipped."""

    def __init__(self, sinks: list[Sink], log=print):
        self.sinks = list(sinks)
        self.failed: dict[str, str] = {}  # sink name -> its error
        self.written = 0
        self._log = log

    def open(self) -> None:
        opened = []
        try:
            for s in self.sinks:
                s.open()
                opened.append(s)
        except BaseException:
            for s in opened:
                s.close()
            raise

    def write(self, record) -> None:
        self.written += 1
        for s in self.sinks:
            if not self._call(s, s.write, record):
                try:
                    s.close()
                except (OSError, ValueError):
                    pass

    def update(self, state: dict) -> None:
        for s in self.sinks:
            self._call(s, s.update, state)

    def _call(self, sink: Sink, method, arg) -> bool:
        """method(arg) unless the sink has failed; False when it fails now (reported once)."""
        if sink.name in self.failed:
            return True
        try:
            method(arg)
            return True
        except (OSError, ValueError) as exc:
            self.failed[sink.name] = str(exc) or type(exc).__name__
            self._log(f"{sink.name} failed ({self.failed[sink.name]}); the other outputs go on")
            return False

    def write_all(self, records) -> None:
        for r in records:
            self.write(r)

    def close(self) -> None:
        for s in self.sinks:
            if s.name in self.failed:
                continue
            try:
                s.close()
            except (OSError, ValueError) as exc:
                self.failed[s.name] = str(exc) or type(exc).__name__
                self._log(f"{s.name} failed when closing ({self.failed[s.name]})")

    def stats(self) -> dict:
        out = {}
        for s in self.sinks:
            st = s.stats()
            if st is not None:
                out[s.name] = st
        if self.failed:
            out["failed"] = dict(self.failed)
        return out
