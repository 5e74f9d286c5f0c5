"""Every figure of a camera's live state, named once for all the outputs that publish state.

A camera's state is what a site summary holds per camera (people per label, lines, zones,
health, timings). MQTT publishes each figure on its own retained topic (its `key`, joined by
"/") and announces it to Home Assistant; Prometheus exports it as `maskwatch_<metric>` with
`labels`. One table, so that a figure added here reaches both, and the tests can check that
each figure of a summary has its topic and its metric line.

Counters count only what is final: a person once their track has ended (their label can no
longer change), a crossing or a zone entry under that final label. A count that included people
still on screen under their provisional label went down when a label changed (people 4 -> 3),
which Prometheus reads as a reset and Home Assistant's total_increasing as a new cycle. What is
provisional is published as gauges: people in view by label, crossings of people still in view.

Figures that are sums of others (people over every label, a line's in_total) are `derived`: on
MQTT they are topics of their own, in Prometheus they are `sum()` of the labelled series.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    key: tuple[str, ...]  # MQTT topic under <prefix>/<camera>/, and the Home Assistant entity
    value: float | str | None
    metric: str  # Prometheus name after "maskwatch_", in base units, counters ending in _total
    kind: str  # "counter" (only grows while the camera runs), "gauge", or "text"
    labels: dict = field(default_factory=dict)
    unit: str | None = None  # for Home Assistant: people, %, s, fps, frames
    name: str = ""  # for Home Assistant, e.g. "Without mask"
    derived: bool = False  # a sum of other figures (no Prometheus series of its own)


# Prometheus HELP, one per metric (a family's series have many names: "With mask", "door in", ...).
HELP = {
    "people_total": "People counted, by final label (a person counts once their track has ended)",
    "people_now": "People in view now, by their provisional label",
    "compliance_ratio": "People counted with a mask, over people counted",
    "events_total": "Events written, by kind",
    "frames_read_total": "Frames read from the source",
    "frames_analysed_total": "Frames analysed",
    "frames_dropped_total": "Frames dropped because analysis fell behind (live sources)",
    "frames_skipped_total": "Frames read but not due at the camera's detect_fps",
    "frames_corrupt_total": "Corrupt frames skipped",
    "reconnects_total": "Reconnections of the source",
    "source_open_failures_total": "Failed attempts to open the source",
    "analysed_fps": "Analysed frames per second of wall time",
    "lag_seconds": "How far the last analysed frame was behind real time",
    "detect_scale": "The scale detection runs at",
    "camera_state": "The camera's state (running, reconnecting, down, ended)",
    "line_crossings_total": "Line crossings, by direction and final label",
    "line_crossings_pending": "Line crossings of people still in view, by their provisional label",
    "line_crossings_predicted_total": "Line crossings inferred for faces lost at or found past the line",
    "zone_people": "People in a zone now, by provisional label",
    "zone_entries_total": "Zone entries, by final label",
    "zone_visits_total": "Zone visits that have ended",
    "zone_dwell_seconds_total": "Time spent in a zone by visits that have ended",
    "zone_dwell_mean_seconds": "Mean stay in a zone",
    "zone_dwell_max_seconds": "Longest stay in a zone",
    "stage_mean_seconds": "Mean time per analysed frame in each stage",
}


def _label_name(label: str) -> str:
    return label.replace("_", " ").capitalize()


def camera_figures(state: dict, labels) -> list[Figure]:
    """The figures of one camera's state (`site_summary()["cameras"][NAME]`, or the same shape
    from `maskwatch video`)."""
    final = state.get("final") or {}
    now = state.get("now") or {}
    out = [
        Figure(("people",), final.get("people", 0), "people_total", "counter", unit="people", name="People", derived=True),
        Figure(("people_now",), state.get("people_now", 0), "people_now", "gauge", unit="people", name="People in view", derived=True),
    ]
    for label in labels:
        out.append(Figure((label,), final.get(label, 0), "people_total", "counter", {"label": label}, "people", _label_name(label)))
        out.append(
            Figure(
                ("now", label),
                now.get(label, 0),
                "people_now",
                "gauge",
                {"label": label},
                "people",
                f"In view, {_label_name(label).lower()}",
            )
        )
    rate = state.get("compliance_rate")
    out.append(
        Figure(("compliance",), None if rate is None else round(100 * rate, 1), "compliance_ratio", "gauge", unit="%", name="Compliance")
    )
    out.append(Figure(("event_count",), state.get("events", 0), "events_total", "counter", name="Events", derived=True))
    health = state.get("health") or {}
    for key, metric, kind, unit, name in (
        ("frames_read", "frames_read_total", "counter", "frames", "Frames read"),
        ("frames_analysed", "frames_analysed_total", "counter", "frames", "Frames analysed"),
        ("frames_dropped", "frames_dropped_total", "counter", "frames", "Frames dropped"),
        ("frames_skipped", "frames_skipped_total", "counter", "frames", "Frames skipped"),
        ("corrupt_frames", "frames_corrupt_total", "counter", "frames", "Corrupt frames"),
        ("reconnects", "reconnects_total", "counter", None, "Reconnects"),
        ("opens_failed", "source_open_failures_total", "counter", None, "Failed opens"),
        ("fps", "analysed_fps", "gauge", "fps", "Analysed frame rate"),
        ("lag_s", "lag_seconds", "gauge", "s", "Lag"),
        ("detect_scale", "detect_scale", "gauge", None, "Detection scale"),  # moves with detect_scale = "auto"
    ):
        if key in health:
            out.append(Figure(("health", key), health[key], metric, kind, unit=unit, name=name))
    if "state" in health:
        out.append(Figure(("health", "state"), health["state"], "camera_state", "text", name="State"))
    for line, s in (state.get("lines") or {}).items():
        final_line = s.get("final") or {"in": {}, "out": {}}
        for direction in ("in", "out"):
            for label in labels:
                out.append(
                    Figure(
                        ("lines", line, direction, label),
                        final_line[direction].get(label, 0),
                        "line_crossings_total",
                        "counter",
                        {"line": line, "direction": direction, "label": label},
                        "people",
                        f"{line} {direction}, {_label_name(label).lower()}",
                    )
                )
                out.append(
                    Figure(
                        ("lines", line, f"{direction}_pending", label),
                        s[direction].get(label, 0) - final_line[direction].get(label, 0),
                        "line_crossings_pending",
                        "gauge",
                        {"line": line, "direction": direction, "label": label},
                        "people",
                        f"{line} {direction} in view, {_label_name(label).lower()}",
                    )
                )
            out.append(
                Figure(
                    ("lines", line, f"{direction}_total"),
                    sum(final_line[direction].values()),
                    "line_crossings_total",
                    "counter",
                    {"line": line, "direction": direction},
                    "people",
                    f"{line} {direction}",
                    derived=True,
                )
            )
            # Of those, crossings of faces lost at the line (video/lines.py): how much is inferred.
            out.append(
                Figure(
                    ("lines", line, f"{direction}_predicted"),
                    (s.get("predicted") or {}).get(direction, 0),
                    "line_crossings_predicted_total",
                    "counter",
                    {"line": line, "direction": direction},
                    "people",
                    f"{line} {direction}, predicted",
                )
            )
    for zone, s in (state.get("zones") or {}).items():
        out.append(
            Figure(
                ("zones", zone, "people_now"), s.get("people_now", 0), "zone_people", "gauge", {"zone": zone}, "people", f"{zone} now", True
            )
        )
        for label in labels:
            out.append(
                Figure(
                    ("zones", zone, "now", label),
                    s["now"].get(label, 0),
                    "zone_people",
                    "gauge",
                    {"zone": zone, "label": label},
                    "people",
                    f"{zone} now, {_label_name(label).lower()}",
                )
            )
            out.append(
                Figure(
                    ("zones", zone, "entered", label),
                    (s.get("entered_final") or {}).get(label, 0),
                    "zone_entries_total",
                    "counter",
                    {"zone": zone, "label": label},
                    "people",
                    f"{zone} entered, {_label_name(label).lower()}",
                )
            )
        out.append(
            Figure(
                ("zones", zone, "entered_total"),
                sum((s.get("entered_final") or {}).values()),
                "zone_entries_total",
                "counter",
                {"zone": zone},
                "people",
                f"{zone} entered",
                True,
            )
        )
        dwell = s.get("dwell_seconds") or {}
        out.append(
            Figure(
                ("zones", zone, "visits"),
                dwell.get("people", 0),
                "zone_visits_total",
                "counter",
                {"zone": zone},
                "people",
                f"{zone} visits ended",
            )
        )
        out.append(
            Figure(
                ("zones", zone, "dwell_total_s"),
                dwell.get("total", 0.0),
                "zone_dwell_seconds_total",
                "counter",
                {"zone": zone},
                "s",
                f"{zone} time spent",
            )
        )
        out.append(
            Figure(
                ("zones", zone, "dwell_mean_s"),
                dwell.get("mean"),
                "zone_dwell_mean_seconds",
                "gauge",
                {"zone": zone},
                "s",
                f"{zone} mean stay",
                True,
            )
        )
        out.append(
            Figure(
                ("zones", zone, "dwell_max_s"),
                dwell.get("max"),
                "zone_dwell_max_seconds",
                "gauge",
                {"zone": zone},
                "s",
                f"{zone} longest stay",
            )
        )
    for stage, ms in (state.get("timing_ms_per_frame") or {}).items():
        out.append(
            Figure(
                ("timing", stage),
                None if ms is None else round(ms / 1000, 6),
                "stage_mean_seconds",
                "gauge",
                {"stage": stage},
                "s",
                f"{stage} time per frame",
            )
        )
    return out


def site_figures(totals: dict, labels) -> list[Figure]:
    """The site device's figures: people over every camera (final labels), cameras by state."""
    final = totals.get("final") or {}
    out = [Figure(("people",), final.get("people", 0), "site_people_total", "counter", unit="people", name="People", derived=True)]
    for label in labels:
        out.append(
            Figure((label,), final.get(label, 0), "site_people_total", "counter", {"label": label}, "people", _label_name(label), True)
        )
    rate = final.get("compliance_rate")
    out.append(
        Figure(
            ("compliance",),
            None if rate is None else round(100 * rate, 1),
            "site_compliance_ratio",
            "gauge",
            unit="%",
            name="Compliance",
            derived=True,
        )
    )
    for key, name in (("cameras_running", "Cameras running"), ("cameras_down", "Cameras down")):
        out.append(Figure((key,), totals.get(key, 0), f"site_{key}", "gauge", name=name, derived=True))
    return out
