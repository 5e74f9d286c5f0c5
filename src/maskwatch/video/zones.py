"""Zones: how many people are in an area now, how many entered, per label, and how long each
stayed (supervision's PolygonZone). A zone is a polygon in fractions of the frame; a face is in
it when its box centre is. Leaving needs two detections outside in a row, so a face on the edge
does not enter and leave on every frame; a track that ends inside leaves then.

Entries count under the person's label as `PeopleCounter` counts them (the label they end with;
their live status while on screen); a track never confirmed as a person counts nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..types import LABELS
from .counting import event
from .lines import check_points, track_detections

LEAVE_AFTER = 2  # detections outside in a row before a face has left


@dataclass
class _Stay:
    since_frame: int
    since: float
    outside: int = 0  # detections outside in a row
    announced: bool = False  # zone_entered written (the track is a person)


class ZoneCounter:
    kind = "zones"
    needs_frame_size = True

    def __init__(self, name: str, points, labels=LABELS):
        self.name = name
        self.points = check_points(points, f"zone {name}", 3)
        self.labels = tuple(labels)
        self._zone = None
        self._size: tuple[int, int] | None = None
        self._inside: dict[int, _Stay] = {}
        self._live_entries: Counter = Counter()  # confirmed tracks -> entries so far
        self._entered = Counter()  # by final label, ended tracks
        self._dwell = {"count": 0, "total": 0.0, "max": 0.0}  # seconds, finished stays of people

    def _polygon(self, frame_size):
        if self._zone is None or frame_size != self._size:
            import supervision as sv

            w, h = frame_size
            pts = np.array(self.points, float).reshape(-1, 2) * (w, h)
            self._zone = sv.PolygonZone(pts.round().astype(int), triggering_anchors=(sv.Position.CENTER,))
            self._size = frame_size
        return self._zone

    def observe(self, tracks, frame: int, ts: float, frame_size=None) -> list[dict]:
        if frame_size is None:
            return []
        inside = self._polygon(frame_size).trigger(track_detections(tracks)) if tracks else np.zeros(0, bool)
        events = []
        seen = set()
        for t, now_in in zip(tracks, inside):
            seen.add(t.id)
            stay = self._inside.get(t.id)
            if now_in:
                if stay is None:
                    stay = self._inside[t.id] = _Stay(frame, ts)
                stay.outside = 0
            elif stay is not None:
                stay.outside += 1
                if stay.outside >= LEAVE_AFTER:
                    events += self._leave(t, frame, ts)
                    continue
            if stay is not None and t.counted and not stay.announced:
                stay.announced = True
                self._live_entries[t.id] += 1
                events.append(event("zone_entered", t, stay.since_frame, stay.since, self.labels, zone=self.name, label=t.status))
        return events

    def _leave(self, t, frame: int, ts: float) -> list[dict]:
        stay = self._inside.pop(t.id)
        if not stay.announced:
            return []
        seconds = max(0.0, ts - stay.since)
        self._dwell["count"] += 1
        self._dwell["total"] += seconds
        self._dwell["max"] = max(self._dwell["max"], seconds)
        return [event("zone_left", t, frame, ts, self.labels, zone=self.name, label=t.status, seconds=round(seconds, 3))]

    def end(self, tracks) -> list[dict]:
        events = []
        for t in tracks:
            if t.id in self._inside:
                events += self._leave(t, t.last_frame, t.last_time)
            n = self._live_entries.pop(t.id, 0)
            if n and t.counted:
                self._entered[t.final] += n
        return events

    def summary(self, live_status: dict[int, str] | None = None) -> dict:
        live_status = live_status or {}
        entered = {label: int(self._entered.get(label, 0)) for label in self.labels}
        for tid, n in self._live_entries.items():
            if live_status.get(tid) in entered:
                entered[live_status[tid]] += n
        now = {label: 0 for label in self.labels}
        for tid, stay in self._inside.items():
            if stay.announced and live_status.get(tid) in now:
                now[live_status[tid]] += 1
        d = self._dwell
        return {
            "points": list(self.points),
            "people_now": sum(now.values()),
            "now": now,
            "entered": entered,
            "entered_total": sum(entered.values()),
            # entries of people whose label is final (their track ended): only ever grows
            "entered_final": {label: int(self._entered.get(label, 0)) for label in self.labels},
            "dwell_seconds": {
                "people": d["count"],
                "total": round(d["total"], 3),
                "mean": round(d["total"] / d["count"], 3) if d["count"] else None,
                "max": round(d["max"], 3) if d["count"] else None,
            },
        }

    def draw(self, scene: np.ndarray, live_status: dict[int, str] | None = None) -> None:
        import cv2

        h, w = scene.shape[:2]
        pts = (np.array(self.points, float).reshape(-1, 2) * (w, h)).round().astype(np.int32)
        cv2.polylines(scene, [pts], True, (255, 200, 0), 2, cv2.LINE_AA)
        s = self.summary(live_status)
        text = f"{self.name}: {s['people_now']} now, {s['entered_total']} in"
        org = (int(pts[:, 0].min()) + 4, int(pts[:, 1].min()) + 16)
        cv2.putText(scene, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(scene, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 200, 0), 1, cv2.LINE_AA)
