"""A real Mosquitto broker on a free loopback port, and a subscriber that keeps what it hears."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").is_file() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """`mosquitto -c` with a listener on 127.0.0.1 only; start() and stop() as often as a test likes."""

    def __init__(self, workdir: Path, port: int | None = None, persistent: bool = False):
        """persistent: messages and sessions kept on disk across stop() and start() (as a real
        broker is set up): without it, what the broker had acknowledged but not yet passed on
        dies with each stop."""
        self.port = port or free_port()
        self.conf = Path(workdir) / "mosquitto.conf"
        # Run as root, mosquitto drops to its own user, which cannot write its database here:
        # `user` keeps it as whoever runs the test.
        keep = (
            f"persistence true\npersistence_location {Path(workdir).resolve()}/\nautosave_interval 1\nuser {getpass.getuser()}\n"
            if persistent
            else "persistence false\n"
        )
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{keep}"
            # a subscriber of a test must hear every event however fast they come (the default drops past 1000 queued)
            "max_queued_messages 0\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited with {self.proc.returncode}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class Listener:
    """A paho client subscribed to topics; `retained` keeps each topic's newest payload,
    `messages` everything in order. Reconnects (and resubscribes) on its own."""

    def __init__(self, port: int, topics=("#",)):
        import paho.mqtt.client as mqtt

        self.retained: dict[str, str] = {}
        self.messages: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.subscribed = threading.Event()

        def on_connect(client, userdata, flags, rc, props):
            for t in topics:
                client.subscribe(t, qos=1)

        def on_subscribe(client, userdata, mid, rcs, props):
            self.subscribed.set()

        def on_message(client, userdata, msg):
            with self._lock:
                payload = msg.payload.decode()
                self.messages.append((msg.topic, payload))
                self.retained[msg.topic] = payload

        self.client.on_connect, self.client.on_subscribe, self.client.on_message = on_connect, on_subscribe, on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the test subscriber could not subscribe"

    def settle(self, seconds: float = 0.5) -> "Listener":
        """Wait until no message has arrived for `seconds` (retained ones come in a burst)."""
        n = -1
        while n != len(self.messages):
            n = len(self.messages)
            time.sleep(seconds)
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
