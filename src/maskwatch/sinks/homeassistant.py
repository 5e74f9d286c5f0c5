"""Home Assistant MQTT discovery: one retained config message per figure, so that each camera
appears as a device with its sensors, with no YAML, also in a Home Assistant started later.

The format is Home Assistant's documented one: the topic
`<discovery_prefix>/sensor/<node_id>/<object_id>/config` (ids of [a-zA-Z0-9_-]), a JSON payload
with `state_topic`, `unique_id`, `device` (identifiers, name, ...) and, for numbers,
`unit_of_measurement` and `state_class` ("measurement", or "total_increasing" for counts that
start again from zero when maskwatch restarts, which Home Assistant reads as a reset).
"""

from __future__ import annotations

import re

from .figures import Figure

SUPPORT_URL = "https://github.com/maskwatch/maskwatch"
_ID = re.compile(r"[^A-Za-z0-9_-]+")


def topic_id(name: str) -> str:
    """A camera, line or zone name as one MQTT topic level and a Home Assistant id."""
    return _ID.sub("_", str(name)).strip("_") or "_"


def node_id(camera: str) -> str:
    return f"maskwatch_{topic_id(camera)}"


def discovery_message(discovery_prefix: str, prefix: str, camera: str, figure: Figure, version: str) -> tuple[str, dict]:
    """(topic, payload) announcing one figure of one camera."""
    node = node_id(camera)
    object_id = "_".join(topic_id(k) for k in figure.key)
    payload = {
        "name": figure.name,
        "unique_id": f"{node}_{object_id}",
        "state_topic": state_topic(prefix, camera, figure.key),
        "availability_topic": availability_topic(prefix),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [node],
            "name": f"maskwatch {camera}",
            "manufacturer": "maskwatch",
            "model": "face-mask camera",
            "sw_version": version,
        },
        "origin": {"name": "maskwatch", "sw_version": version, "support_url": SUPPORT_URL},
        "icon": "mdi:face-mask" if figure.unit in ("people", "%") else "mdi:cctv",
    }
    if figure.kind != "text":
        payload["state_class"] = "total_increasing" if figure.kind == "counter" else "measurement"
        if figure.unit:
            payload["unit_of_measurement"] = figure.unit
        if figure.unit == "s":
            payload["device_class"] = "duration"
    if figure.key[0] in ("health", "timing"):
        payload["entity_category"] = "diagnostic"
    return f"{discovery_prefix}/sensor/{node}/{object_id}/config", payload


def state_topic(prefix: str, camera: str, key: tuple[str, ...]) -> str:
    return "/".join([prefix, topic_id(camera), *(topic_id(k) for k in key)])


def availability_topic(prefix: str) -> str:
    return f"{prefix}/availability"
