"""A minimal HTTP MJPEG (multipart/x-mixed-replace) server for stream tests, on 127.0.0.1 only."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2


class MjpegServer:
    def __init__(
        self, frames, port: int = 0, fps: float = 30.0, max_seconds: float = 60.0, stall_after: int | None = None, stall_every: bool = False
    ):
        self.jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for f in frames]
        self.fps = fps
        self.max_seconds = max_seconds  # every response ends by itself: no test can hang on it
        self.sent = 0
        self.stall_after = stall_after  # first connection goes silent (but stays open) after this many frames
        self.stall_every = stall_every  # every connection does (a camera that stalls and comes back, again and again)
        self.connections = 0
        self._port = port
        self._httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/stream.mjpg"

    def start(self) -> "MjpegServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                t_end = time.monotonic() + server.max_seconds
                server.connections += 1
                stall = server.stall_after if server.connections == 1 or server.stall_every else None
                i = 0
                try:
                    while time.monotonic() < t_end and not getattr(self.server, "closing", False):
                        if stall is not None and i >= stall:
                            time.sleep(0.05)  # connected but silent: a stalled camera
                            continue
                        jpg = server.jpegs[i % len(server.jpegs)]
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(jpg)).encode()
                            + b"\r\n\r\n"
                            + jpg
                            + b"\r\n"
                        )
                        server.sent += 1
                        i += 1
                        time.sleep(1 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Kill the stream: close the listener and every open connection."""
        if self._httpd:
            self._httpd.closing = True
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
