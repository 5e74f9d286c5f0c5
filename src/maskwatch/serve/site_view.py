"""The site on the web page: every camera of a site file run in the background, its latest small
frame, and the site summary (counts per line and zone, health, per-minute series) once a second."""

from __future__ import annotations

import threading

import cv2

THUMB_WIDTH = 480  # px: small frames, so a page of many cameras stays light


class SiteView:
    def __init__(self, detector, site, sinks=()):
        from ..video.site import run_site

        self.names = [c.name for c in site.cameras]
        self.summary: dict | None = None
        self.final: dict | None = None
        self._jpegs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

        def hook(name):
            def on_frame(vis, counts):
                scale = THUMB_WIDTH / vis.shape[1]
                small = (
                    cv2.resize(vis, (THUMB_WIDTH, max(1, round(vis.shape[0] * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else vis
                )
                ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
                if ok:
                    with self._lock:
                        self._jpegs[name] = buf.tobytes()

            return on_frame

        def target():
            try:
                self.final = run_site(detector, site, stop=self._stop, log=lambda m: None, on_tick=self._tick, frame_hook=hook, sinks=sinks)
                self.summary = self.final
            except Exception as exc:  # the page says so instead of going quiet
                self.final = self.summary = {"error": f"{type(exc).__name__}: {exc}", "cameras": {}}

        self._thread = threading.Thread(target=target, name="maskwatch-site", daemon=True)
        self._thread.start()

    def _tick(self, summary: dict) -> None:
        self.summary = summary

    def jpeg(self, name: str) -> bytes | None:
        with self._lock:
            return self._jpegs.get(name)

    def state(self) -> dict:
        return {"running": self._thread.is_alive(), **(self.summary or {"cameras": {}})}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=40)
