"""Outputs: photo results and video events leave through Sinks (open, write, close).

Photo results: files.py (JSON, JSON Lines, CSV, Parquet). Video events: events.py (JSON Lines),
webhook.py (HTTP POST), mqtt.py (with homeassistant.py's discovery). Live state (`update`):
mqtt.py and prometheus.py, both over the figures named in figures.py. A new output is one new file here and one entry in the table of the
verb that offers it (`photo_sinks`, `event_sinks`).
"""

from __future__ import annotations

from .base import Sink, SinkGroup
from .files import CsvSink, JsonlSink, JsonSink, ParquetSink, StdoutJsonl

__all__ = ["CsvSink", "JsonSink", "JsonlSink", "ParquetSink", "Sink", "SinkGroup", "StdoutJsonl", "event_sinks", "photo_sinks"]


def photo_sinks(
    header: dict,
    json: str | None = None,
    csv: str | None = None,
    jsonl: str | None = None,
    parquet: str | None = None,
    resume: bool = False,
    resume_any_settings: bool = False,
) -> list[Sink]:
    """The sinks `maskwatch image` options ask for (each path, or "-" for stdout)."""
    out: list[Sink] = []
    if jsonl:
        out.append(StdoutJsonl(header) if jsonl == "-" else JsonlSink(jsonl, header, resume=resume, any_settings=resume_any_settings))
    if json:
        out.append(JsonSink(json, header))
    if csv:
        out.append(CsvSink(csv))
    if parquet:
        out.append(ParquetSink(parquet, header))
    return out


def event_sinks(
    events: str | None = None,
    webhook: str | None = None,
    mqtt=None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    labels=None,
    camera: str = "camera",
    log=print,
) -> list[Sink]:
    """The sinks `maskwatch video` and `site` options ask for: an events file, a webhook, MQTT
    (an mqtt.MqttTarget), Prometheus metrics on a port. `camera` names the events and state of
    a single video, whose events carry no camera name."""
    from ..types import LABELS

    labels = labels or LABELS
    out: list[Sink] = []
    if events:
        from .events import EventsJsonl

        out.append(EventsJsonl(events))
    if webhook:
        from .webhook import WebhookSink

        out.append(WebhookSink(webhook, log=log))
    if mqtt is not None:
        from .mqtt import MqttSink

        out.append(MqttSink(mqtt, labels, camera=camera, log=log))
    if metrics_port is not None:
        from .prometheus import PrometheusSink

        out.append(PrometheusSink(labels, camera=camera, port=metrics_port, host=metrics_host))
    return out
