"""A whole site from one file: many cameras, one set of models, counts per line and zone.

    [outputs]                      # all optional
    summary = "site.json"          # {"cameras": {NAME: <video summary>}, "totals": {...}}
    events = "events.jsonl"        # every camera's events, each with its "camera"
    webhook = "https://hooks.example.org/masks"

    [[cameras]]
    name = "door"
    source = "rtsp://cam1.local/stream"   # webcam index, file, RTSP/HTTP URL, frames folder
    detect_fps = 5                        # frames analysed per second (default 5, as NVRs do)
    detect_scale = 0.5                    # optional: detect on the frame shrunk so (faster; faces >= ~32 px);
                                          # "auto": full size while the machine keeps up (video/governor.py)
    lines = { entrance = [0.5, 0.0, 0.5, 1.0] }
    zones = { queue = [0.0, 0.0, 0.5, 0.0, 0.5, 1.0, 0.0, 1.0] }
    out = "door.mp4"                      # optional: the annotated video

Each camera runs in its own thread over the one shared Detector (ONNX Runtime sessions are
thread-safe and release the GIL). A camera that fails (unreachable, stalling, corrupt) is
reopened with back-off for as long as the site runs and says so in its health; it never holds
up the others. A file is read at its own pace, every frame decoded and `detect_fps` of them
analysed; a live source keeps only its newest frames. A site with file cameras (a replay, a test)
stops when its last file has ended; a site of live cameras runs until Ctrl-C / SIGTERM (`stop`).
Either way every camera's summary is written.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from ..settings import VIDEO_DEFAULTS, VideoSettings
from ..sinks.base import Sink
from .governor import ScaleGovernor
from .tracking import TrackerConfig, tracker_for_rate

DEFAULT_DETECT_FPS = 5.0
STOP_WAIT_S = 3.0  # how long a stopping site waits for its camera threads, all together
RETRY_MAX_S = 30.0

CAMERA_KEYS = {"name", "source", "detect_fps", "detect_scale", "lines", "zones", "out", "fps", "blur", "loop"}
MQTT_KEYS = {"mqtt", "mqtt_prefix", "mqtt_discovery_prefix", "mqtt_password_file", "mqtt_ca"}
OUTPUT_KEYS = {"summary", "events", "webhook", "metrics_port", "metrics_host", *MQTT_KEYS}
TOP_KEYS = {"cameras", "outputs", "stop", "review", "classifier", "runtime", "parts"}
REVIEW_KEYS = {"store", "per_hour"}
# When a site ends by itself: "auto" (the default) with its files when it has only files, never
# while it has a live camera; "when-files-end" also stops live cameras then; "never" runs until
# Ctrl-C / SIGTERM whatever the files do.
STOP_RULES = ("auto", "when-files-end", "never")
MIN_DETECT_FPS = 0.1  # one frame in 10 s: below it a camera silently analyses one frame, or none


@dataclass(frozen=True)
class CameraSpec:
    name: str
    source: str
    detect_fps: float = DEFAULT_DETECT_FPS
    detect_scale: float = 1.0  # detection on the frame shrunk by this factor (Detector.find_faces)
    auto_scale: bool = False  # detect_scale = "auto": the site's governor sets it, from 1 down to 0.5
    lines: dict = field(default_factory=dict)  # NAME -> (x1, y1, x2, y2), fractions
    zones: dict = field(default_factory=dict)  # NAME -> (x1, y1, ..., xn, yn), fractions
    out: str | None = None
    fps: float | None = None  # a frames folder's rate
    blur: bool = False
    loop: bool = False  # a file played again from its start when it ends (a demo, a soak test)


@dataclass(frozen=True)
class SiteSpec:
    cameras: tuple[CameraSpec, ...]
    summary: str | None = None
    events: str | None = None
    webhook: str | None = None
    mqtt: object | None = None  # a sinks.mqtt.MqttTarget
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    stop: str = "auto"  # STOP_RULES
    file: str | None = None  # the site file (an input: never written to)
    review_store: str | None = None  # [review] store: faces kept for a person's look (review/)
    review_per_hour: int | None = None
    classifier: str | None = None  # the site's own classifier (e.g. from `train --reviews`); --classifier wins
    runtime: str | None = None  # runtimes.RUNTIMES; --runtime wins
    parts: str | None = None  # a part check .onnx or "off"; --parts wins


def _unknown(keys, known, where: str) -> None:
    for key in sorted(set(keys) - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
        raise ValueError(f"{where}: unknown key {key!r} ({hint})")


def load_site(path: str | Path) -> SiteSpec:
    """Read and check a site file; every mistake is one ValueError naming the key and the fix."""
    from .lines import check_points

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"site file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    _unknown(data, TOP_KEYS, str(path))
    outputs = data.get("outputs", {})
    if not isinstance(outputs, dict):
        raise ValueError(f"{path}: [outputs] must be a table")
    _unknown(outputs, OUTPUT_KEYS, f"{path} [outputs]")
    cameras = data.get("cameras")
    if not isinstance(cameras, list) or not cameras:
        raise ValueError(f"{path}: no cameras: add at least one [[cameras]] table with a name and a source")
    stop_rule = data.get("stop", "auto")
    if stop_rule not in STOP_RULES:
        raise ValueError(f"{path}: stop must be one of {', '.join(repr(r) for r in STOP_RULES)}, got {stop_rule!r}")
    from ..sinks.homeassistant import SITE, topic_id

    specs, names, topics = [], set(), {}
    for i, cam in enumerate(cameras, 1):
        where = f"{path} camera {i}"
        if not isinstance(cam, dict):
            raise ValueError(f"{where}: write each camera as a [[cameras]] table")
        _unknown(cam, CAMERA_KEYS, where)
        for key in ("name", "source"):
            if not isinstance(cam.get(key), (str, int)) or str(cam.get(key)).strip() == "":
                raise ValueError(f'{where}: missing {key!r} (e.g. {key} = "{"door" if key == "name" else "rtsp://cam1.local/stream"}")')
        name = str(cam["name"])
        where = f"{path} camera {name!r}"
        if name in names:
            raise ValueError(f"{where}: two cameras have this name; give each its own")
        names.add(name)
        if topic_id(name) in topics:  # MQTT topics, Home Assistant ids and metric labels would be shared
            raise ValueError(
                f"{where}: name maps to the same MQTT topic and Home Assistant id ({topic_id(name)!r}) as camera "
                f"{topics[topic_id(name)]!r}; use letters, digits, _ and - to tell them apart"
            )
        if topic_id(name) == SITE:
            raise ValueError(f"{where}: {SITE!r} names the site's own device in MQTT and Home Assistant; call the camera otherwise")
        topics[topic_id(name)] = name
        fps = cam.get("detect_fps", DEFAULT_DETECT_FPS)
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not MIN_DETECT_FPS <= fps <= 60:
            raise ValueError(f"{where}: detect_fps must be a number of frames per second in [{MIN_DETECT_FPS}, 60], got {fps!r}")
        rate = cam.get("fps")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 240):
            raise ValueError(f"{where}: fps (a frames folder's rate) must be a number in (0, 240], got {rate!r}")
        out = cam.get("out")
        if out is not None and (not isinstance(out, str) or not out.lower().endswith((".mp4", ".avi"))):
            raise ValueError(f'{where}: out must be a .mp4 or .avi file name, e.g. out = "door.mp4", got {out!r}')
        for key in ("blur", "loop"):
            if not isinstance(cam.get(key, False), bool):
                raise ValueError(f"{where}: {key} must be true or false, got {cam[key]!r}")
        scale = cam.get("detect_scale", 1.0)
        auto = scale == "auto"
        if auto:
            scale = 1.0
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.2 <= scale <= 1:
            raise ValueError(
                f'{where}: detect_scale must be a number in [0.2, 1] (1: the whole frame; 0.5: half its width) or "auto", got {scale!r}'
            )
        shapes = {}
        for kind, least, most in (("lines", 2, 2), ("zones", 3, None)):
            table = cam.get(kind, {})
            if not isinstance(table, dict):
                raise ValueError(f"{where}: {kind} must be a table of NAME = [x1, y1, ...], e.g. {kind} = {{ door = [0.5, 0, 0.5, 1] }}")
            shapes[kind] = {
                k: check_points(_flat_points(v, f"{where} {kind}.{k}"), f"{where} {kind}.{k}", least, most) for k, v in table.items()
            }
        specs.append(
            CameraSpec(
                name=name,
                source=str(cam["source"]),
                detect_fps=float(fps),
                detect_scale=float(scale),
                auto_scale=auto,
                lines=shapes["lines"],
                zones=shapes["zones"],
                out=out,
                fps=None if rate is None else float(rate),
                blur=bool(cam.get("blur", False)),
                loop=bool(cam.get("loop", False)),
            )
        )
    mqtt = None
    if "mqtt" in outputs:
        from ..sinks.mqtt import DEFAULT_DISCOVERY_PREFIX, DEFAULT_PREFIX, MqttTarget

        discovery = outputs.get("mqtt_discovery_prefix", DEFAULT_DISCOVERY_PREFIX)
        try:
            mqtt = MqttTarget.from_options(
                str(outputs["mqtt"]),
                prefix=str(outputs.get("mqtt_prefix", DEFAULT_PREFIX)),
                discovery_prefix=None if discovery in (False, "", "none") else str(discovery),
                password_file=outputs.get("mqtt_password_file"),
                ca=outputs.get("mqtt_ca"),
            )
        except ValueError as exc:
            raise ValueError(f"{path} [outputs]: {exc}".replace("--mqtt-", "mqtt_").replace("--mqtt", "mqtt")) from None
    elif MQTT_KEYS & set(outputs):
        raise ValueError(f'{path} [outputs]: {sorted(MQTT_KEYS & set(outputs))[0]} without mqtt: add mqtt = "mqtt://host:1883"')
    review = data.get("review", {})
    if not isinstance(review, dict):
        raise ValueError(f'{path}: [review] must be a table, e.g. [review] store = "reviews"')
    _unknown(review, REVIEW_KEYS, f"{path} [review]")
    if review and not isinstance(review.get("store"), str):
        raise ValueError(f'{path} [review]: store must be a folder name, e.g. store = "reviews"')
    per_hour = review.get("per_hour")
    if per_hour is not None and (isinstance(per_hour, bool) or not isinstance(per_hour, int) or per_hour < 1):
        raise ValueError(f"{path} [review]: per_hour must be a whole number of faces, 1 or more, got {per_hour!r}")
    classifier = data.get("classifier")
    if classifier is not None and (not isinstance(classifier, str) or not Path(classifier).is_file()):
        raise ValueError(f"{path}: classifier {classifier!r} is not a model file (a .onnx from maskwatch train)")
    runtime = data.get("runtime")
    from ..runtimes import RUNTIMES

    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(f"{path}: runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    parts = data.get("parts")
    if parts is not None and (not isinstance(parts, str) or (parts != "off" and not Path(parts).is_file())):
        raise ValueError(f'{path}: parts {parts!r} is not a model file (a .onnx from maskwatch train-parts) or "off"')
    port = outputs.get("metrics_port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        raise ValueError(f"{path} [outputs]: metrics_port must be a port number in 1-65535, got {port!r}")
    return SiteSpec(
        tuple(specs),
        outputs.get("summary"),
        outputs.get("events"),
        outputs.get("webhook"),
        mqtt,
        port,
        str(outputs.get("metrics_host", "127.0.0.1")),
        stop_rule,
        str(path),
        review.get("store"),
        per_hour,
        classifier,
        runtime,
        parts,
    )


def _flat_points(value, where: str) -> list:
    """[x1, y1, x2, y2, ...] from that flat list or from a list of points [[x1, y1], ...] (the
    form supervision and Frigate users write)."""
    if not isinstance(value, list):
        value = [value]
    if value and all(isinstance(p, list) for p in value):
        if not all(len(p) == 2 for p in value):
            raise ValueError(f"{where}: write each point as [x, y], got {value!r}")
        value = [c for p in value for c in p]
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in value):
        raise ValueError(f"{where}: the coordinates must be numbers (fractions of the frame), got {value!r}")
    return value


def check_site_outputs(site: SiteSpec) -> None:
    """No output is an input (the site file, a camera's source) or another output; one line."""
    from ..paths import refuse_collisions

    where = site.file or "the site"
    inputs = [(f"{where}", site.file)] + [(f"camera {c.name!r} source", c.source) for c in site.cameras]
    outputs = [(f"camera {c.name!r} out", c.out) for c in site.cameras]
    outputs += [("the summary", site.summary), ("the events", site.events)]
    try:
        refuse_collisions(inputs, outputs)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


class _CameraSink(Sink):
    """A camera's view of the site's event sinks: every event gets the camera's name and an
    `event_id` unique across runs (a subscriber that gets an event twice, as MQTT's QoS 1 may
    deliver it after a reconnection, keeps it once); writes from the camera threads are serialised."""

    def __init__(self, group, camera: str, lock: threading.Lock, run_id: str = ""):
        self.name, self.camera, self._group, self._lock = f"site events ({camera})", camera, group, lock
        self._prefix, self._seq = f"{run_id}-{camera}-", 0

    def write(self, event: dict) -> None:
        with self._lock:
            self._seq += 1
            self._group.write({"event_id": f"{self._prefix}{self._seq}", "camera": self.camera, **event})


@dataclass
class Health:
    state: str = "starting"  # starting, running, reconnecting, down, ended
    error: str | None = None
    frames_read: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0  # converted but not analysed in time (live: the newest frame wins)
    frames_skipped: int = 0  # not converted: between two frames due at detect_fps
    corrupt_frames: int = 0
    reconnects: int = 0
    opens_failed: int = 0
    lag_s: float = 0.0  # how far the last analysed frame was behind real time (live sources)
    detect_scale: float = 1.0  # the scale detection runs at now (changes with detect_scale = "auto")
    fps: float = 0.0  # analysed frames per second of wall time

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class CameraWorker:
    """One camera of a site: a thread over source -> Camera, reopening its source when it fails."""

    def __init__(
        self,
        spec: CameraSpec,
        detector,
        site_sink,
        lock,
        video: VideoSettings,
        stop: threading.Event,
        log,
        on_frame=None,
        resume_after=None,
        run_id: str = "",
        reviewer=None,
    ):
        """resume_after: a file camera skips its frames up to this media time (a camera resumed
        on another node of a cluster, video/ray_site.py); reviewer: a review.video.TrackReviewer."""
        from .camera import Camera, CameraOutputs
        from .lines import LineCounter
        from .sources import source_kind
        from .zones import ZoneCounter

        self.spec, self._stop, self._log = spec, stop, log
        self.live = source_kind(spec.source) in ("webcam", "stream")
        labels = detector.classifier.labels
        counters = [LineCounter(n, p, labels) for n, p in spec.lines.items()] + [ZoneCounter(n, p, labels) for n, p in spec.zones.items()]
        sinks = [_CameraSink(site_sink, spec.name, lock, run_id)] if site_sink is not None else []
        self.camera = Camera(
            detector,
            spec.detect_fps,
            CameraOutputs(out=spec.out, blur=spec.blur, on_frame=on_frame, sinks=sinks),
            video,
            tracker_for_rate(TrackerConfig(), spec.detect_fps),
            counters,
            log=lambda m: log(f"{spec.name}: {m}"),
            detect_scale=spec.detect_scale,
            reviewer=reviewer,
        )
        self.health = Health(detect_scale=spec.detect_scale)
        self.resume_after = resume_after
        self.last_ts: float | None = None  # the time of the last analysed frame (media time for files)
        self._video = video
        self._source = None  # the FrameSource open now
        self._started = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=f"maskwatch-camera-{spec.name}", daemon=True)

    def _run(self) -> None:
        from .sources import FrameSource

        delay, index = 1.0, 0
        offset = 0.0  # media time of the plays before this one (loop = true)
        while not self._stop.is_set():
            try:
                source = FrameSource(
                    self.spec.source,
                    fps=self.spec.fps,
                    stall_timeout=self._video.stall_timeout,
                    reconnect_timeout=self._video.reconnect_timeout,
                    log=lambda m: self._log(f"{self.spec.name}: {m}"),
                    # Frames between two analysed ones are grabbed but never converted or queued.
                    sample_fps=self.spec.detect_fps,
                    cancel=self._stop,  # a stream still opening gives up when the site stops
                )
            except (ValueError, OSError) as exc:
                self.health.opens_failed += 1
                self.health.error = str(exc)
                if not self.live:
                    self.health.state = "ended"
                    return
                self.health.state = "down"
                self._stop.wait(delay)  # retried for as long as the site runs
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = 1.0
            self._source = source
            opened = time.monotonic() - self._started  # a live frame's timestamp counts from about here
            self.health.state, self.health.error = "running", None
            h = self.health
            base_read, base_dropped, base_corrupt, base_reconnects = h.frames_read, h.frames_dropped, h.corrupt_frames, h.reconnects
            base_skipped = h.frames_skipped
            try:
                for frame in source:
                    if self._stop.is_set():
                        break
                    self.health.frames_read = base_read + source.stats.frames_read
                    self.health.frames_dropped = base_dropped + source.stats.frames_dropped
                    self.health.frames_skipped = base_skipped + source.stats.frames_skipped
                    self.health.corrupt_frames = base_corrupt + source.stats.corrupt_frames
                    self.health.reconnects = base_reconnects + source.stats.reconnects
                    # Live: when the frame was read, on the site's clock (one clock across reopenings);
                    # files: media time.
                    ts = opened + frame.timestamp if self.live else offset + frame.timestamp
                    if not self.live and self.resume_after is not None and ts <= self.resume_after:
                        continue  # analysed before, by this camera's previous run
                    self.camera.process(frame.image, index, ts)
                    self.last_ts = ts
                    index += 1
                    self.health.frames_analysed += 1
                    wall = time.monotonic() - self._started
                    self.health.fps = self.health.frames_analysed / wall if wall > 0 else 0.0
                    if self.live:  # from the frame's arrival to the end of its analysis
                        self.health.lag_s = max(0.0, time.monotonic() - self._started - ts)
            except Exception as exc:  # one camera's failure must not reach the others
                self.health.error = f"{type(exc).__name__}: {exc}"
            finally:
                source.close()
            if source.error:
                self.health.error = source.error
            if not self.live and self.spec.loop and not source.error and not self._stop.is_set() and self.last_ts is not None:
                offset = self.last_ts + 1.0 / max(source.fps, 1.0)  # the next play goes on in time
                continue
            if not self.live or self._stop.is_set():
                self.health.state = "ended" if not self.live else "stopped"
                if source.error and not self.live:
                    self.health.state = "ended with error"
                return
            self.health.state = "reconnecting"
            self._log(f"{self.spec.name}: source lost ({self.health.error}); retrying")

    def summary(self) -> dict:
        health = self.health.to_dict()
        source = self._source
        if health["state"] == "running" and source is not None and source.reconnecting:
            health["state"] = "reconnecting"  # the source reopens a lost stream by itself: not running now
        return {
            "source": self.spec.source,
            "detect_fps": self.spec.detect_fps,
            "detect_scale": "auto" if self.spec.auto_scale else self.spec.detect_scale,
            "health": health,
            **self.camera.summary(),
        }


def run_site(detector, site: SiteSpec, stop: threading.Event | None = None, log=print, on_tick=None, frame_hook=None, sinks=()) -> dict:
    """Run every camera of the site until its files end (or `stop` is set); returns the summary
    (also written to site.summary). `on_tick(summary)` is called about once a second,
    `frame_hook(camera name)` may give each camera an on_frame(annotated frame, counts) (web page),
    and `sinks` are outputs beside the site file's (the web server's metrics)."""
    from ..sinks import SinkGroup, event_sinks
    from .run import write_json_atomic
    from .tracking import load_bytetrack

    check_site_outputs(site)
    load_bytetrack()
    stop = stop or threading.Event()
    labels = detector.classifier.labels
    group = SinkGroup(
        event_sinks(site.events, site.webhook, site.mqtt, site.metrics_port, site.metrics_host, labels, log=log) + list(sinks), log=log
    )
    group.open()
    lock = threading.Lock()
    import uuid

    run_id = uuid.uuid4().hex[:8]

    def reviewer(spec):
        if not site.review_store:
            return None
        from ..review.select import ReviewPolicy
        from ..review.video import TrackReviewer

        policy = ReviewPolicy() if site.review_per_hour is None else ReviewPolicy(per_hour=site.review_per_hour)
        return TrackReviewer(
            site.review_store,
            spec.name,
            spec.source,
            detector.settings.conf,
            detector.classifier.margin,
            detector.info().get("classifier"),
            policy,
            log,
        )

    workers = [
        CameraWorker(
            spec,
            detector,
            group,
            lock,
            VIDEO_DEFAULTS,
            stop,
            log,
            frame_hook(spec.name) if frame_hook else None,
            run_id=run_id,
            reviewer=reviewer(spec),
        )
        for spec in site.cameras
    ]
    auto = [w for w in workers if w.spec.auto_scale and w.live]  # a file is read at its own pace: never late
    governor = ScaleGovernor() if auto else None
    t0 = time.monotonic()
    try:
        for w in workers:
            w.thread.start()
        # A site of files (a replay, a test) ends with its last file; a live camera keeps the site
        # running, however long one of them is down, unless the file says otherwise (`stop`).
        files = [w for w in workers if not w.live]
        live = len(files) < len(workers)
        rule = site.stop if site.stop != "auto" else ("never" if live else "when-files-end")
        watched = files if rule == "when-files-end" and files else workers
        while rule == "never" or any(w.thread.is_alive() for w in watched):
            if stop.wait(0.5):
                break
            if governor:
                set_auto_scale(governor, auto, time.monotonic(), log)
            summary = site_summary(workers, detector, time.monotonic() - t0)
            publish_state(group, lock, summary, workers)
            if on_tick:
                on_tick(summary)
    except KeyboardInterrupt:
        stop.set()
    finally:
        stop.set()
        # One deadline for all: each thread ends within a frame (opens in progress give up at
        # once, capture_process.py), and a container's stop grace is about 10 s.
        deadline = time.monotonic() + STOP_WAIT_S
        for w in workers:
            w.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for w in workers:
            if not w.thread.is_alive():  # one still in a frame keeps its camera; its counts so far stand
                w.camera.close()
        summary = site_summary(workers, detector, time.monotonic() - t0)
        publish_state(group, lock, summary, workers)
        group.close()
    summary["outputs"] = group.stats()
    if site.summary:
        write_json_atomic(site.summary, summary)
    return summary


def set_auto_scale(governor: ScaleGovernor, workers, now: float, log) -> None:
    """One governor reading over the auto cameras; a new scale goes to all of them at once."""
    new = governor.update(now, sum(w.health.frames_analysed for w in workers), sum(w.health.frames_dropped for w in workers))
    if new is None:
        return
    for w in workers:
        w.camera.step.detect_scale = new  # read once per frame by its thread: a float swap is safe
        w.health.detect_scale = new
    log(f'detect_scale {new} for {", ".join(w.spec.name for w in workers)} (detect_scale = "auto")')


def publish_state(group, lock, summary: dict, workers) -> None:
    """The live state to the outputs that publish it (MQTT, Prometheus), with each camera's
    per-frame stage times since the last call."""
    timings = {w.spec.name: w.camera.take_timings() for w in workers}
    with lock:  # the camera threads write events into the same group
        group.update({**summary, "outputs": group.stats(), "frame_timings": timings})


def site_summary(workers, detector, wall: float) -> dict:
    cameras = {w.spec.name: w.summary() for w in workers}
    return {
        "cameras": cameras,
        "totals": site_totals(cameras, detector.classifier.labels),
        "wall_seconds": round(wall, 3),
        "model": detector.info(),
        "settings": detector.settings.to_dict(),
    }


def site_totals(cameras: dict, labels) -> dict:
    """People per class over every camera summary, and how many cameras run or are down."""
    totals = {
        "people": sum(c.get("people", 0) for c in cameras.values()),
        **{l: sum(c.get(l, 0) for c in cameras.values()) for l in labels},
    }
    totals["compliance_rate"] = round(totals["with_mask"] / totals["people"], 4) if totals["people"] else None
    from .counting import count_totals

    final = Counter()
    for c in cameras.values():
        final.update({l: (c.get("final") or {}).get(l, 0) for l in labels})
    totals["final"] = count_totals(final, labels)  # people whose label is final: only grows
    states = [c.get("health", {}).get("state") for c in cameras.values()]
    totals["cameras_running"] = sum(1 for s in states if s == "running")
    totals["cameras_down"] = sum(1 for s in states if s in ("down", "reconnecting"))
    return totals
