"""Which frames a camera analyses at its `detect_fps`: one rule, used by the frame reader (so that
frames between two analysed ones are not even converted) and by the camera worker."""

from __future__ import annotations


class RateSampler:
    """`due(ts)` is True for the frames to analyse: about `fps` per second of timestamps. The
    schedule advances by whole periods, so a 25 fps source gives exactly 5 of every 25 frames at
    5 fps, not 4 (as "at least a period since the last" would with jitter); after a gap of more
    than two periods (a drop, a reconnection) it restarts at the next frame."""

    def __init__(self, fps: float):
        if not fps > 0:
            raise ValueError(f"frames per second must be positive, got {fps!r}")
        self.period = 1.0 / fps
        self.last: float | None = None

    def due(self, ts: float) -> bool:
        if self.last is not None and ts < self.last + self.period * 0.999:
            return False
        self.last = ts if self.last is None or ts - self.last > 2 * self.period else self.last + self.period
        return True
