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
SITE = "site"  # the site's own device (its totals): a camera may not take this name
# A sensor not updated for this long reads "unavailable" in Home Assistant (a maskwatch that hung
# or lost its broker without its will being sent); every state is sent again at least every
# HEARTBEAT_S (sinks/mqtt.py), so a value that does not change does not expire.
EXPIRE_AFTER_S = 180
HEARTBEAT_S = 60
CAMERA_STATES = ("starting", "running", "reconnecting", "down", "stopped", "ended", "ended with error")
_ID = re.compile(r"[^A-Za-z0-9_-]+")


def topic_id(name: str) -> str:
    """A camera, line or zone name as one MQTT topic level and a Home Assistant id."""
    return _ID.sub("_", str(name)).strip("_") or "_"


def node_id(camera: str) -> str:
    return f"maskwatch_{topic_id(camera)}"


def discovery_message(discovery_prefix: str, prefix: str, camera: str, figure: Figure, version: str) -> tuple[str, dict]:
    """(topic, payload) announcing one figure of one camera (or of the site, camera=SITE).
    A camera's sensors are available while maskwatch runs (the site's topic, whose will says
    offline) and the camera itself runs (its own topic): a camera that is down does not show its
    last counts as if current."""
    node = node_id(camera)
    object_id = "_".join(topic_id(k) for k in figure.key)
    availability = [{"topic": availability_topic(prefix)}]
    if camera != SITE:
        availability.append({"topic": camera_availability_topic(prefix, camera)})
    payload = {
        "name": figure.name,
        "unique_id": f"{node}_{object_id}",
        "state_topic": state_topic(prefix, camera, figure.key),
        "availability": availability,
        "availability_mode": "all",
        "payload_available": "online",
        "payload_not_available": "offline",
        "expire_after": EXPIRE_AFTER_S,
        "device": {
            "identifiers": [node],
            "name": "maskwatch site" if camera == SITE else f"maskwatch {camera}",
            "manufacturer": "maskwatch",
            "model": "face-mask camera",
            "sw_version": version,
        },
        "origin": {"name": "maskwatch", "sw_version": version, "support_url": SUPPORT_URL},
        "icon": "mdi:face-mask" if figure.unit in ("people", "%") else "mdi:cctv",
    }
    if figure.key == ("health", "state"):  # a state with known values: an enum sensor
        payload["device_class"] = "enum"
        payload["options"] = list(CAMERA_STATES)
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


def camera_availability_topic(prefix: str, camera: str) -> str:
    return state_topic(prefix, camera, ("availability",))


def owned_node(config_topic: str, payload: bytes, discovery_prefix: str, prefix: str) -> str | None:
    """The node id of a retained discovery config that this maskwatch (its `prefix`) announced
    once, or None for anyone else's."""
    import json

    parts = config_topic.split("/")
    if len(parts) != 5 or parts[0] != discovery_prefix or parts[1] != "sensor" or not parts[2].startswith("maskwatch_"):
        return None
    try:
        state = json.loads(payload or b"{}").get("state_topic", "")
    except (ValueError, AttributeError):
        return None
    return parts[2] if isinstance(state, str) and state.startswith(f"{prefix}/") else None
