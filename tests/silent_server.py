"""A TCP server on 127.0.0.1 that accepts and never answers: a camera that hangs every open."""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """Accepts TCP connections and never sends a byte: a camera that hangs every open."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)  # kept open, never answered
            except OSError:
                continue

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def close(self):
        self._stop.set()
        for c in self.held:
            c.close()
        self.sock.close()
