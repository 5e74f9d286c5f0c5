"""People counts from tracks: fed the tracks of each frame and the tracks that ended, never the
tracker's internals, so that lines, zones and other counters sit beside this one.

A counter has `observe(tracks, frame, ts) -> events`, `end(tracks) -> events` and `summary()`.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ..types import LABELS


def event(kind: str, t, frame: int, ts: float, labels, **extra) -> dict:
    """One video event record (JSON Lines, webhook, MQTT): what happened to which track, when;
    with `reason` where the label it gives is a mask worn incorrectly and the part check saw why."""
    from ..parts import reason

    out = {
        "event": kind,
        "track": t.id,
        "frame": frame,
        "time": round(ts, 3),
        **extra,
        "probs": {l: round(float(v), 4) for l, v in zip(labels, t.ema)},
    }
    parts = getattr(t, "parts", None)
    why = None if parts is None else reason(extra.get("label", extra.get("to")), float(parts[0]), float(parts[1]))
    if why:
        out["reason"] = why
    return out


class PeopleCounter:
    """Unique people per label, the compliance rate and a per-minute series; `appear`, `change`
    and `end` events. A person is a track the tracker has confirmed (Track.counted)."""

    def __init__(self, labels=LABELS):
        self.labels = tuple(labels)
        self._live: dict[int, str] = {}  # confirmed tracks on screen -> their status
        # Ended people are kept as counts only, so memory stays flat on streams that run for days.
        self._ended_counts: Counter = Counter()
        self._minutes: dict[int, dict[int, str]] = defaultdict(dict)  # open minutes: track -> status
        self._closed_minutes: list[dict] = []  # finished minutes, as counts

    def observe(self, tracks, frame: int, ts: float) -> list[dict]:
        events = []
        for t in tracks:
            if not t.counted:
                continue
            before = self._live.get(t.id)
            if before is None:
                events.append(event("appear", t, frame, ts, self.labels, label=t.status, box=[round(float(v), 1) for v in t.box]))
            elif before != t.status:
                events.append(event("change", t, frame, ts, self.labels, **{"from": before, "to": t.status}))
            self._live[t.id] = t.status
            minute = int(ts // 60)
            self._minutes[minute][t.id] = t.status
            self._close_minutes_before(minute - 1)  # keep the previous minute open for late frames
        return events

    def end(self, tracks) -> list[dict]:
        events = []
        for t in tracks:
            if not t.counted:
                continue
            status = self._live.pop(t.id, t.status)
            if t.final != status:
                events.append(event("change", t, t.last_frame, t.last_time, self.labels, **{"from": status, "to": t.final}))
            self._ended_counts[t.final] += 1
            events.append(
                event(
                    "end",
                    t,
                    t.last_frame,
                    t.last_time,
                    self.labels,
                    label=t.final,
                    frames_seen=t.last_frame - t.first_frame + 1,
                    first_time=round(t.first_time, 3),
                    first_frame=t.first_frame,
                )
            )
        return events

    def people(self) -> dict[int, str]:
        """People on screen now -> current status."""
        return dict(self._live)

    def counts(self) -> dict:
        # From the per-label totals, never from a list of everyone seen: drawn on every frame, so
        # its cost must not grow with the number of people a camera has seen over days.
        statuses = Counter(self._ended_counts)
        statuses.update(self._live.values())
        return count_totals(statuses, self.labels)

    def final_counts(self) -> dict:
        """People whose label is final (their track has ended): these only ever grow, so they
        are what counters publish (Prometheus, Home Assistant total_increasing)."""
        return count_totals(Counter(self._ended_counts), self.labels)

    def now_counts(self) -> dict:
        """People on screen now, by their provisional label (a gauge: it goes up and down)."""
        by = Counter(self._live.values())
        return {label: int(by.get(label, 0)) for label in self.labels}

    def _close_minutes_before(self, minute: int) -> None:
        for m in sorted(k for k in self._minutes if k < minute):
            self._closed_minutes.append({"minute": m, **count_statuses(self._minutes.pop(m).values(), self.labels)})

    def per_minute(self) -> list[dict]:
        open_ = [{"minute": m, **count_statuses(seen.values(), self.labels)} for m, seen in sorted(self._minutes.items())]
        return self._closed_minutes + open_

    def summary(self) -> dict:
        return {**self.counts(), "per_minute": self.per_minute()}


def count_statuses(statuses, labels=LABELS) -> dict:
    return count_totals(Counter(statuses), labels)


def count_totals(totals: Counter, labels=LABELS) -> dict:
    """People per label and the compliance rate, from a Counter of statuses."""
    by = {label: int(totals.get(label, 0)) for label in labels}
    n = sum(by.values())
    return {"people": n, **by, "compliance_rate": round(by.get("with_mask", 0) / n, 4) if n else None}
