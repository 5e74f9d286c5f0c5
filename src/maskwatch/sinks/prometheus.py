"""Prometheus metrics (prometheus_client): every figure of every camera as a `maskwatch_*` series,
events by kind, per-stage latency histograms, and (on `maskwatch serve`) the photos served.

Names follow Prometheus' conventions: base units (seconds, ratios), counters end in `_total`,
one metric per quantity with labels (camera, label, line, direction, zone, stage) rather than
a name per class. Sums (people over all labels, a line's total) are left to `sum()`.

Each sink has its own registry, never the process-wide default one: two runs in one process
(tests, a server with a site) never share series.
"""

from __future__ import annotations

from collections import Counter

from .base import Sink

# Per-frame stage times on a CPU: from a fraction of a millisecond (tracking) to a second (a
# large photo on a small board).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
NAMESPACE = "maskwatch"


class PrometheusSink(Sink):
    """update(state) keeps the newest state; a scrape turns it into series (a collector), so a
    scrape costs the camera threads nothing. `port`: serve /metrics on it (video, site)."""

    name = "metrics"

    def __init__(self, labels, camera: str = "camera", port: int | None = None, host: str = "127.0.0.1"):
        try:
            from prometheus_client import CollectorRegistry, Histogram
        except ImportError:
            raise ValueError("metrics need prometheus_client: pip install 'maskwatch[metrics]'") from None
        self.labels, self.camera, self.port, self.host = tuple(labels), camera, port, host
        self.registry = CollectorRegistry(auto_describe=True)
        self.stage_seconds = Histogram(
            "stage_duration_seconds",
            "Time one analysed frame spent in each stage",
            ["camera", "stage"],
            namespace=NAMESPACE,
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(self)
        # Photos served by the web API (`maskwatch serve`): series appear with the first photo.
        from prometheus_client import Counter as PromCounter

        self.api_photos = PromCounter(
            "api_photos", "Photos analysed by the web API, by result", ["result"], namespace=NAMESPACE, registry=self.registry
        )
        self.api_faces = PromCounter(
            "api_faces", "Faces found by the web API, by label", ["label"], namespace=NAMESPACE, registry=self.registry
        )
        self.api_seconds = Histogram(
            "api_photo_duration_seconds",
            "Time to decode and analyse one uploaded photo",
            namespace=NAMESPACE,
            buckets=STAGE_BUCKETS + (5.0, 10.0),
            registry=self.registry,
        )
        self._state: dict = {}
        self._events: Counter = Counter()  # (camera, kind) -> n
        self._server = None

    def open(self) -> None:
        if self.port is None:
            return
        from prometheus_client import start_http_server

        try:
            self._server, _ = start_http_server(self.port, addr=self.host, registry=self.registry)
        except OSError as exc:
            raise ValueError(f"--metrics-port {self.port}: cannot listen on {self.host}:{self.port} ({exc.strerror or exc})") from None

    def close(self) -> None:
        """The endpoint stays up, serving the final state, until the process exits (its thread
        is a daemon): the last seconds of a run are scraped too. `shutdown()` ends it sooner."""

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def write(self, event: dict) -> None:
        self._events[(str(event.get("camera", self.camera)), str(event.get("event")))] += 1

    def update(self, state: dict) -> None:
        for camera, frames in (state.get("frame_timings") or {}).items():
            for timing in frames:
                for stage, seconds in timing.items():
                    self.stage_seconds.labels(camera, stage).observe(seconds)
        self._state = state  # replaced whole: a scrape reads one consistent state

    def photo(self, seconds: float, result) -> None:
        """One photo of the web API (an ImageResult) and the time it took."""
        self.api_photos.labels("error" if result.error else "ok").inc()
        self.api_seconds.observe(seconds)
        for face in result.faces or ():
            self.api_faces.labels(face.label).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The /metrics body and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def stats(self) -> dict | None:
        return {"port": self.port} if self.port is not None else None

    # The collector (prometheus_client calls it on every scrape)

    def describe(self):
        return []  # the series depend on the site's cameras, lines and zones

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from .figures import HELP, camera_figures

        families: dict[str, object] = {}

        def family(metric: str, kind: str, keys: list[str], doc: str):
            name = f"{NAMESPACE}_{metric}"
            if name not in families:
                if kind == "counter":
                    families[name] = CounterMetricFamily(name.removesuffix("_total"), doc, labels=keys)
                else:
                    families[name] = GaugeMetricFamily(name, doc, labels=keys)
            return families[name]

        state = self._state
        for camera, cam in (state.get("cameras") or {}).items():
            for f in camera_figures(cam, self.labels):
                if f.derived or f.value is None:
                    continue
                if f.kind == "text":  # the camera's state as a state set: one series at 1
                    keys = ["camera", "state"]
                    family(f.metric, "gauge", keys, HELP[f.metric]).add_metric([camera, str(f.value)], 1)
                    family("camera_up", "gauge", ["camera"], "1 while the camera is running").add_metric(
                        [camera], float(f.value == "running")
                    )
                    continue
                value = f.value / 100 if f.metric == "compliance_ratio" else f.value  # a ratio, not a percentage
                keys = ["camera", *f.labels]
                family(f.metric, f.kind, keys, HELP.get(f.metric, f.metric)).add_metric(
                    [camera, *map(str, f.labels.values())], float(value)
                )
        for (camera, kind), n in sorted(self._events.items()):
            family("events_total", "counter", ["camera", "event"], "Events written, by kind").add_metric([camera, kind], n)
        totals = state.get("totals") or {}
        if "cameras_running" in totals:
            g = family("site_cameras", "gauge", ["state"], "Cameras of the site by state")
            g.add_metric(["running"], totals["cameras_running"])
            g.add_metric(["down"], totals["cameras_down"])
        for output, st in (state.get("outputs") or {}).items():
            if not isinstance(st, dict):
                continue
            for key in ("sent", "failed", "dropped", "events_sent"):
                if isinstance(st.get(key), (int, float)):
                    family(
                        f"output_{key.removeprefix('events_')}_total",
                        "counter",
                        ["output"],
                        f"Events {key.removeprefix('events_')} by an output",
                    ).add_metric([output], st[key])
            if isinstance(st.get("events_unsent"), (int, float)):  # goes down as a broker comes back: a gauge
                family("output_unsent", "gauge", ["output"], "Events an output holds, not yet acknowledged").add_metric(
                    [output], st["events_unsent"]
                )
        yield from families.values()
