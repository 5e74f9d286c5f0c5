"""`detect_scale = "auto"`: a site's live cameras detect on smaller frames only while the machine
cannot keep up with them at full size.

One governor per site sets one scale for all of its auto cameras (they share the cores, so
lowering one camera's cost helps all, and one rule cannot make them probe upward all at once).
It reads, every `window_s`, how many of the frames due at the cameras' detect_fps were dropped as
too late. More than `behind_share` of them: one step down the ladder. None for `quiet_s`: one step
up, to try; a step up that falls behind again doubles the wait before the next try, so a machine
that is short of a step settles one step down with rare, short probes.

The ladder ends at 0.5: what 12 cameras at 5 fps on 2 cores needed (benchmarks/bench_site.py),
and the counting cost of that scale is measured (README, site section).
"""

from __future__ import annotations

from dataclasses import dataclass

SCALE_STEPS = (1.0, 0.875, 0.75, 0.625, 0.5)


@dataclass
class ScaleGovernor:
    steps: tuple[float, ...] = SCALE_STEPS
    window_s: float = 2.0  # how often the drop count is read
    behind_share: float = 0.05  # dropped / due frames in a window that counts as falling behind
    settle_s: float = 4.0  # after a change, drops this soon are the change's own transient
    quiet_s: float = 15.0  # seconds without falling behind before a step up is tried
    max_quiet_s: float = 240.0
    level: int = 0  # index into steps: 0 is full size
    changes: int = 0

    def __post_init__(self):
        self._wait = self.quiet_s
        self._since_change = 0.0
        self._last: tuple[float, int, int] | None = None  # (time, analysed, dropped) at the last reading
        self._probing = False  # the last change was a step up

    @property
    def scale(self) -> float:
        return self.steps[self.level]

    def update(self, now: float, analysed: int, dropped: int) -> float | None:
        """Feed the auto cameras' running totals of frames analysed and dropped; returns the new
        scale when it changes, else None."""
        if self._last is None:
            self._last = (now, analysed, dropped)
            return None
        t0, a0, d0 = self._last
        if now - t0 < self.window_s:
            return None
        self._last = (now, analysed, dropped)
        self._since_change += now - t0
        late, done = max(0, dropped - d0), max(0, analysed - a0)
        behind = late > self.behind_share * max(1, late + done)
        if behind and self.changes and self._since_change < self.settle_s:
            return None
        if behind and self.level < len(self.steps) - 1:
            if self._probing:  # the step up was one too many: wait longer before the next try
                self._wait = min(self._wait * 2, self.max_quiet_s)
            return self._move(+1)
        if behind:
            self._since_change = 0.0  # at the bottom: nothing to try upward while still behind
            return None
        if self.level > 0 and self._since_change >= self._wait:
            return self._move(-1)
        if self._probing and self._since_change >= self.quiet_s:
            self._probing = False  # the step up held: later tries need only the plain wait
            self._wait = self.quiet_s
        return None

    def _move(self, direction: int) -> float:
        self.level += direction
        self._probing = direction < 0
        self._since_change = 0.0
        self.changes += 1
        return self.scale
