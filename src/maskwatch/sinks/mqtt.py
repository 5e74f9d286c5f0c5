"""MQTT output (paho-mqtt): every camera's figures as retained state topics, every event on an
events topic, and Home Assistant discovery.

    <prefix>/availability                 online / offline (retained; "offline" is also the will
                                          the broker sends if maskwatch vanishes)
    <prefix>/<camera>/people, .../without_mask, .../compliance, .../people_now
    <prefix>/<camera>/lines/<line>/in/with_mask, .../zones/<zone>/people_now, .../health/fps ...
    <prefix>/<camera>/events              each event as JSON (QoS 1, not retained)
    <discovery_prefix>/sensor/maskwatch_<camera>/<figure>/config   (Home Assistant discovery)

Locks: paho's network thread holds its own mutexes while it runs our callbacks, and `publish()`
takes them from the caller's thread. So nothing here calls into paho while holding a lock of
ours, and no callback waits for a lock that a publishing thread may hold (a camera thread holding
our lock inside `publish()` while paho's thread, inside its mutex, waited for that lock in
`on_publish` froze whole sites). Acknowledgements are read from paho's own MQTTMessageInfo, so
no callback counts anything.

A broker that goes away never stops the video: paho's network thread reconnects with back-off
while frames go on. Events wait in paho's queue (bounded: when it is full an event is dropped
and counted) and are sent on reconnection. State is not queued: a state message sent late could
land after a newer one and leave a stale retained value, so on every (re)connection the newest
value of every figure and the discovery configs are published again; counts come back whole.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .base import Sink
from .homeassistant import HEARTBEAT_S

QUEUE_SIZE = 10_000  # events held while the broker is away
RECONNECT_MAX_S = 10  # back-off between reconnection attempts: 1, 2, 4, 8, then every 10 s
CLOSE_WAIT_S = 2.0  # for the last acknowledgements: a stopping site has about 10 s in all
DEFAULT_PREFIX = "maskwatch"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
USERNAME_ENV, PASSWORD_ENV = "MASKWATCH_MQTT_USERNAME", "MASKWATCH_MQTT_PASSWORD"


@dataclass(frozen=True)
class MqttTarget:
    """Where and how to publish. Credentials come from the environment or a file, not the
    command line (other users can read a process's arguments)."""

    host: str
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca: str | None = None  # CA file for TLS (default: the system's)
    prefix: str = DEFAULT_PREFIX
    discovery_prefix: str | None = DEFAULT_DISCOVERY_PREFIX  # None: no Home Assistant discovery

    @classmethod
    def from_options(
        cls,
        url: str,
        prefix: str = DEFAULT_PREFIX,
        discovery_prefix: str | None = DEFAULT_DISCOVERY_PREFIX,
        password_file: str | None = None,
        ca: str | None = None,
        env=os.environ,
    ) -> "MqttTarget":
        """From `mqtt://[user@]host[:port]` or `mqtts://...` (TLS); one-line ValueErrors."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"--mqtt needs mqtt://host[:port] or mqtts://host[:port] (TLS), got {url!r}")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise ValueError(f"--mqtt {url}: the port must be a number in 1-65535") from None
        if parts.password:
            raise ValueError(f"--mqtt: put the password in ${PASSWORD_ENV} or --mqtt-password-file, not in the URL (others can read it)")
        password = env.get(PASSWORD_ENV)
        if password_file:
            try:
                password = Path(password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"--mqtt-password-file {password_file}: {exc.strerror or exc}") from None
        if ca and not Path(ca).is_file():
            raise ValueError(f"--mqtt-ca {ca}: no such file")
        for what, value in (("prefix", prefix), ("discovery prefix", discovery_prefix)):
            if value is not None and (not value or any(c in value for c in "+#") or value.startswith("/") or value.endswith("/")):
                raise ValueError(f"MQTT {what} {value!r}: use topic levels without +, # or a leading/trailing /")
        username = unquote(parts.username) if parts.username else env.get(USERNAME_ENV)
        return cls(parts.hostname, port, parts.scheme == "mqtts" or bool(ca), username, password, ca, prefix, discovery_prefix)

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def _acknowledged(info) -> bool:
    """Whether paho has seen this event acknowledged. An event published while the broker was
    away has rc MQTT_ERR_NO_CONN, yet paho keeps it queued and sends it on reconnection; its
    is_published() raises for that rc, so the flag it would return is read as is."""
    try:
        return info.is_published()
    except RuntimeError:
        return bool(getattr(info, "_published", False))


class MqttSink(Sink):
    """Events through write(), the live state through update(); `camera` names the events of
    `maskwatch video`, which carry no camera (a site's events do)."""

    name = "mqtt"

    def __init__(self, target: MqttTarget, labels, camera: str = "camera", log=print, queue_size: int = QUEUE_SIZE):
        import importlib.util

        if importlib.util.find_spec("paho") is None:
            raise ValueError("--mqtt needs paho-mqtt: pip install 'maskwatch[mqtt]'")
        from .._version import __version__

        self.target, self.labels, self.camera, self._log = target, tuple(labels), camera, log
        self._version = __version__
        self._queue_size = queue_size
        self._client = None
        self._lock = threading.Lock()
        self._latest: dict[str, str] = {}  # state topic -> newest payload
        self._discovery: dict[str, str] = {}  # config topic -> payload
        # Events handed to paho, oldest first, not yet seen acknowledged (MQTTMessageInfo).
        self._pending: deque = deque()
        self.connected = False
        self.connections = self.disconnects = 0
        self.events_sent = self.events_dropped = 0
        self.state_messages = 0
        self._warned = self._closing = False
        self._last_heartbeat = 0.0
        # Retained discovery configs heard from the broker (appended by paho's thread, taken by
        # update(): a deque's append and popleft need no lock): those of cameras this maskwatch
        # announced once and no longer has are removed.
        self._heard_configs: deque = deque(maxlen=100_000)

    # The client

    def open(self) -> None:
        import paho.mqtt.client as mqtt

        t = self.target
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"maskwatch-{uuid.uuid4().hex[:12]}")
        if t.username is not None:
            c.username_pw_set(t.username, t.password)
        if t.tls:
            c.tls_set(ca_certs=t.ca)
        c.will_set(self._availability, "offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        c.max_queued_messages_set(self._queue_size)
        c.on_connect, c.on_disconnect, c.on_message = self._on_connect, self._on_disconnect, self._on_message
        self._client = c
        c.connect_async(t.host, t.port, keepalive=30)
        c.loop_start()  # connects, and reconnects, in paho's own thread

    @property
    def _availability(self) -> str:
        from .homeassistant import availability_topic

        return availability_topic(self.target.prefix)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._warn(f"broker {self.target.describe()} refused the connection ({reason_code})")
            return
        self.connected = True
        self.connections += 1
        client.publish(self._availability, "online", qos=1, retain=True)
        if self.target.discovery_prefix:
            client.subscribe(f"{self.target.discovery_prefix}/status", qos=1)  # Home Assistant's birth message
            client.subscribe(f"{self.target.discovery_prefix}/sensor/+/+/config", qos=1)  # what we announced before
        self._publish_all(client)

    def _publish_all(self, client) -> None:
        """Discovery and the newest state, again: what a broker or a Home Assistant that just
        (re)started needs."""
        with self._lock:
            discovery, latest = list(self._discovery.items()), list(self._latest.items())
        for topic, payload in discovery:
            client.publish(topic, payload, qos=1, retain=True)
        for topic, payload in latest:  # QoS 0: never resent later, over a newer value
            client.publish(topic, payload, qos=0, retain=True)
        self.state_messages += len(latest)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected and not self._closing:
            self.disconnects += 1
        self.connected = False
        if reason_code.is_failure and not self._closing:
            self._warn(f"lost the broker {self.target.describe()} ({reason_code}); reconnecting, the video goes on")

    def _prune(self) -> None:
        """Drop the acknowledged events from the head of the pending list. Only ever called
        from the threads that write (never from paho's)."""
        with self._lock:
            while self._pending and _acknowledged(self._pending[0]):
                self._pending.popleft()
                self.events_sent += 1

    def _unacknowledged(self) -> int:
        self._prune()
        with self._lock:  # acknowledgements can arrive out of order: some behind the head are done
            return sum(1 for info in self._pending if not _acknowledged(info))

    def _on_message(self, client, userdata, message) -> None:
        if message.topic.endswith("/config"):
            if message.payload:
                self._heard_configs.append((message.topic, bytes(message.payload)))
        elif message.payload == b"online":  # Home Assistant (re)started: announce everything again
            self._publish_all(client)

    def _warn(self, message: str) -> None:
        if not self._warned:  # one line, not one per reconnection attempt; the summary has the counts
            self._warned = True
            self._log(f"mqtt: {message}")

    # The Sink

    def write(self, event: dict) -> None:
        from paho.mqtt.client import MQTT_ERR_QUEUE_SIZE

        from .homeassistant import state_topic

        if self._client is None:
            raise ValueError("the MQTT output is closed")
        topic = state_topic(self.target.prefix, event.get("camera", self.camera), ("events",))
        info = self._client.publish(topic, json.dumps(event), qos=1)  # no lock of ours held here
        with self._lock:
            if info.rc == MQTT_ERR_QUEUE_SIZE:
                self.events_dropped += 1
            else:
                self._pending.append(info)
        self._prune()  # keeps the list to the events in flight

    def update(self, state: dict) -> None:
        import time

        from .figures import camera_figures, site_figures
        from .homeassistant import SITE, camera_availability_topic, discovery_message, node_id, state_topic

        changed, announce = [], []
        cameras = state.get("cameras") or {}
        groups = [(camera, camera_figures(cam, self.labels)) for camera, cam in cameras.items()]
        if "totals" in state and "final" in state["totals"]:  # a site: its own device, with the totals
            groups.append((SITE, site_figures(state["totals"], self.labels)))
        with self._lock:
            for camera, figures in groups:
                if camera != SITE:  # the camera's own availability: its sensors read unavailable while it is down
                    up = (cameras[camera].get("health") or {}).get("state", "running") == "running"
                    self._set(camera_availability_topic(self.target.prefix, camera), "online" if up else "offline", changed)
                for f in figures:
                    # None: unknown yet (no one seen); a number sensor must not get text.
                    if f.value is not None:
                        self._set(state_topic(self.target.prefix, camera, f.key), str(f.value), changed)
                    if self.target.discovery_prefix:
                        ctopic, config = discovery_message(self.target.discovery_prefix, self.target.prefix, camera, f, self._version)
                        if ctopic not in self._discovery:
                            self._discovery[ctopic] = json.dumps(config)
                            announce.append((ctopic, self._discovery[ctopic]))
            now = time.monotonic()
            if now - self._last_heartbeat >= HEARTBEAT_S:  # unchanged values too, before they expire
                self._last_heartbeat = now
                changed = list(self._latest.items())
            discovery = set(self._discovery)
        if not self.connected:
            return  # published whole on reconnection
        if self.target.discovery_prefix:
            announce += self._removals(discovery, {node_id(c) for c, _ in groups})
        for topic, payload in announce + changed:
            self._client.publish(topic, payload, qos=0, retain=True)
            self.state_messages += 1

    def _set(self, topic: str, payload: str, changed: list) -> None:
        if self._latest.get(topic) != payload:
            self._latest[topic] = payload
            changed.append((topic, payload))

    def _removals(self, discovery: set, nodes: set) -> list[tuple[str, str]]:
        """Empty retained configs for what this maskwatch announced once for a camera it no longer
        has (removed from the site file): Home Assistant deletes those entities."""
        from .homeassistant import owned_node

        out = []
        while self._heard_configs:
            topic, payload = self._heard_configs.popleft()
            node = owned_node(topic, payload, self.target.discovery_prefix, self.target.prefix)
            if node is not None and node not in nodes and topic not in discovery:
                out.append((topic, ""))
        return out

    def close(self, wait: float = CLOSE_WAIT_S) -> None:
        import time

        if self._client is None:
            return
        c = self._client
        if self.connected:
            c.publish(self._availability, "offline", qos=1, retain=True)
        deadline = time.monotonic() + wait
        while self.connected and self._unacknowledged() and time.monotonic() < deadline:
            time.sleep(0.05)  # acknowledgements of the last events
        time.sleep(0.1 if self.connected else 0)  # the availability message, written by the network thread
        self._closing = True
        c.disconnect()
        c.loop_stop()
        self._client = None

    def stats(self) -> dict:
        unsent = self._unacknowledged()
        with self._lock:
            sent = self.events_sent + len(self._pending) - unsent
        return {
            "broker": self.target.describe(),
            "connected": self.connected,
            "connections": self.connections,
            "disconnects": self.disconnects,
            "events_sent": sent,
            "events_unsent": unsent + self.events_dropped,  # never acknowledged, or dropped from a full queue
            "events_dropped": self.events_dropped,
            "state_messages": self.state_messages,
        }
