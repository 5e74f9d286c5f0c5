"""A site's cameras on a Ray cluster: `maskwatch site SITE.toml --engine ray --address HOST:PORT`.

Each camera is a Ray actor (its own models, a `CameraWorker` thread) that Ray restarts on another
node when its node is lost. The driver polls every actor about twice a second for its new events
and its summary, and writes the events through the site's outputs, as `run_site` does locally.

Exactly once: each event carries an id (the actor's incarnation and a sequence number) and stays
in the actor until the driver has acknowledged it; the driver writes an id once. A restarted
actor is a new incarnation; the driver starts it where the lost one stopped (a file camera skips
the media time already analysed; a live camera goes on from now) and counts the gap: restarts,
seconds without the camera, frames analysed by each incarnation. Events still unacknowledged in
a lost actor (at most half a second of them) are lost with it and counted as such only by the gap.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque

from ..errors import MaskwatchError
from ..settings import VIDEO_DEFAULTS

POLL_S = 0.5
POLL_TIMEOUT_S = 5.0
# Each camera actor's CPUs: one camera keeps about one core busy at 5 fps on this hardware.
CAMERA_CPUS = 1.0


class _BufferSink:
    """A camera's events, numbered, kept until the driver acknowledges them."""

    name = "ray camera buffer"

    def __init__(self, incarnation: str):
        self.incarnation, self.seq, self.pending, self.lock = incarnation, 0, deque(), threading.Lock()

    def write(self, event: dict) -> None:
        with self.lock:
            self.seq += 1
            self.pending.append({**event, "event_id": f"{self.incarnation}-{self.seq}"})  # this numbering is what the driver acknowledges

    def take(self, acked: int) -> list[dict]:
        with self.lock:
            while self.pending and int(self.pending[0]["event_id"].rsplit("-", 1)[1]) <= acked:
                self.pending.popleft()
            return list(self.pending)


class CameraActor:
    """One camera of the site, on whichever node Ray places it (made a Ray actor in run_site_ray)."""

    def __init__(self, spec, settings, video=VIDEO_DEFAULTS):
        import ray

        from ..pipeline import Detector

        self.incarnation = uuid.uuid4().hex[:8]
        self.node = ray.get_runtime_context().get_node_id()
        self.spec, self.video, self.detector = spec, video, Detector(settings)
        self.buffer = _BufferSink(self.incarnation)
        self.stop_event = threading.Event()
        self.worker = None
        self.logs: deque = deque(maxlen=50)

    def start(self, resume_after: float | None) -> str:
        """Start analysing (once per incarnation); a file camera skips media time up to resume_after."""
        from .site import CameraWorker

        if self.worker is None:
            self.worker = CameraWorker(
                self.spec,
                self.detector,
                self.buffer,
                threading.Lock(),
                self.video,
                self.stop_event,
                self.logs.append,
                resume_after=resume_after,
            )
            self.worker.thread.start()
        return self.incarnation

    def poll(self, acked: int) -> dict:
        w = self.worker
        return {
            "incarnation": self.incarnation,
            "node": self.node,
            "started": w is not None,
            "alive": w is not None and w.thread.is_alive(),
            "events": self.buffer.take(acked),
            "summary": w.summary() if w else None,
            "last_ts": w.last_ts if w else None,
            "logs": [self.logs.popleft() for _ in range(len(self.logs))],
        }

    def stop(self) -> dict | None:
        self.stop_event.set()
        if self.worker is not None:
            self.worker.thread.join(timeout=30)
            self.worker.camera.close()
            return self.worker.summary()
        return None


class _Camera:
    """The driver's record of one camera across incarnations."""

    def __init__(self, spec, actor):
        self.spec, self.actor = spec, actor
        self.incarnation: str | None = None
        self.acked = 0
        self.written: set[str] = set()
        self.previous: list[dict] = []  # the last summary of each lost incarnation
        self.summary: dict | None = None
        self.last_ts: float | None = None
        self.alive = True
        self.restarts = 0
        self.gap_s = 0.0
        self.unreachable_since: float | None = None
        self.nodes: list[str] = []


def run_site_ray(
    settings, site, address: str | None, stop: threading.Event | None = None, log=print, camera_cpus: float = CAMERA_CPUS, labels=None
) -> dict:
    """Run every camera of `site` as a Ray actor; returns the site summary (also written to
    site.summary). Ends when every file camera has ended, or when `stop` is set (Ctrl-C).
    labels: the classifier's mask classes, when the caller has loaded it already (else loaded here)."""
    try:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError
    except ImportError:
        raise MaskwatchError("--engine ray needs Ray: pip install 'maskwatch[ray]'") from None
    import logging

    from ..pipeline import model_info
    from ..sinks import SinkGroup, event_sinks
    from .run import write_json_atomic
    from .site import site_totals

    stop = stop or threading.Event()
    auto = [c.name for c in site.cameras if c.auto_scale]
    if auto:  # the governor shares one machine's cores among its cameras; here each actor has its own
        log(f'detect_scale = "auto" is governed in a one-process site only; on Ray, {", ".join(auto)} detect at full size')
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    if threading.current_thread() is threading.main_thread():
        import signal

        # Ray's own SIGTERM handler ends the process at once; a stop must write the summary.
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    # Cameras spread over the nodes; an actor lost with its node comes back (max_restarts=-1) on
    # a node with room for it.
    remote = ray.remote(max_restarts=-1, max_task_retries=0)(CameraActor)
    per_camera = settings.but(threads=max(1, int(camera_cpus)))
    cams = [
        _Camera(spec, remote.options(num_cpus=camera_cpus, scheduling_strategy="SPREAD").remote(spec, per_camera)) for spec in site.cameras
    ]
    if labels is None:
        from ..classify import MaskClassifier

        labels = MaskClassifier(settings.classifier, threads=1).labels
    group = SinkGroup(event_sinks(site.events, site.webhook, site.mqtt, site.metrics_port, site.metrics_host, labels, log=log), log=log)
    group.open()
    t0 = time.monotonic()

    def poll_all() -> None:
        refs = {c.spec.name: c.actor.poll.remote(c.acked) for c in cams}
        for c in cams:
            try:
                r = ray.get(refs[c.spec.name], timeout=POLL_TIMEOUT_S)
            except (RayActorError, GetTimeoutError) as exc:
                if c.unreachable_since is None:
                    c.unreachable_since = time.monotonic()
                    log(f"{c.spec.name}: camera actor unreachable ({type(exc).__name__}); Ray restarts it")
                continue
            if r["incarnation"] != c.incarnation:
                if c.incarnation is not None:  # a restart: the lost incarnation's figures are kept
                    c.restarts += 1
                    if c.summary:
                        c.previous.append(c.summary)
                    log(f"{c.spec.name}: camera back after {time.monotonic() - (c.unreachable_since or time.monotonic()):.1f} s")
                c.incarnation, c.acked = r["incarnation"], 0
                c.nodes.append(r["node"])
            if c.unreachable_since is not None:
                c.gap_s += time.monotonic() - c.unreachable_since
                c.unreachable_since = None
            if not r["started"]:
                # File cameras resume after the media time already analysed; live ones from now.
                c.actor.start.remote(c.last_ts)
                continue
            for line in r["logs"]:
                log(f"{c.spec.name}: {line}")
            for event in r["events"]:
                if event["event_id"] not in c.written:
                    c.written.add(event["event_id"])
                    group.write(event)  # it carries the camera's name already
                c.acked = max(c.acked, int(event["event_id"].rsplit("-", 1)[1]))
            c.summary, c.alive = r["summary"], r["alive"]
            c.last_ts = r["last_ts"] if r["last_ts"] is not None else c.last_ts

    def summary_now() -> dict:
        cameras = {c.spec.name: camera_summary(c, labels) for c in cams}
        return {
            "cameras": cameras,
            "totals": site_totals(cameras, labels),
            "wall_seconds": round(time.monotonic() - t0, 3),
            "engine": "ray",
            "model": model_info(settings),
            "settings": settings.to_dict(),
        }

    try:
        while True:
            poll_all()
            group.update({**summary_now(), "outputs": group.stats()})
            files = [c for c in cams if not _live(c.spec.source)]
            if files and all(c.summary is not None and not c.alive for c in files):
                break
            if stop.wait(POLL_S):
                break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        finals = {}
        for c in cams:
            try:
                finals[c.spec.name] = ray.get(c.actor.stop.remote(), timeout=60)
            except Exception as exc:  # an actor lost at the end: its last polled summary stands
                log(f"{c.spec.name}: could not stop the camera actor ({type(exc).__name__})")
        try:
            poll_all()  # the events written between the last poll and the stop
        except Exception:
            pass
        for c in cams:
            if finals.get(c.spec.name):
                c.summary = finals[c.spec.name]
        summary = summary_now()
        group.update({**summary, "outputs": group.stats()})
        group.close()
        for c in cams:
            ray.kill(c.actor, no_restart=True)
    summary["outputs"] = group.stats()
    if site.summary:
        write_json_atomic(site.summary, summary)
    return summary


def _live(source: str) -> bool:
    from .sources import source_kind

    return source_kind(source) in ("webcam", "stream")


def camera_summary(c: _Camera, labels) -> dict:
    """The camera's figures over every incarnation: counts added up, health of the current one."""
    parts = c.previous + ([c.summary] if c.summary else [])
    out = dict(c.summary or {"source": c.spec.source, "health": {"state": "starting"}})
    for key in ("people", *labels):
        out[key] = sum(p.get(key, 0) for p in parts)
    out["compliance_rate"] = round(out["with_mask"] / out["people"], 4) if out.get("people") else None
    out["cluster"] = {
        "restarts": c.restarts,
        "gap_seconds": round(c.gap_s + (time.monotonic() - c.unreachable_since if c.unreachable_since else 0.0), 3),
        "frames_analysed_per_incarnation": [p.get("health", {}).get("frames_analysed", 0) for p in parts],
        "events_written": len(c.written),
        "nodes": list(c.nodes),  # the Ray node id of each incarnation
    }
    return out
