"""FastAPI app: the upload page, the REST API, and (with a source) a live MJPEG view with counts.

Models load once per app and are shared by all request threads (ONNX Runtime sessions are
thread-safe). Uploads are size-limited, decoded in memory (content decides, not the extension)
and never written to disk.
"""

import asyncio
import concurrent.futures
import contextlib
import hmac
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from ..errors import MaskwatchError
from ..imageio import decode_image
from ..settings import PHOTO, VIDEO, Settings
from ..types import ImageResult
from .body_guard import BODY_TIMEOUT_S, IDLE_TIMEOUT_S

PAGE = Path(__file__).with_name("page.html")
LIVE_RECONNECT_S = 10 * 365 * 86400.0  # a live view's stream is reopened for as long as the server runs
VIEWER_POLL_S = 0.02  # how often a viewer looks for a new frame (the camera analyses at most ~30 a second)
SITE_PAGE = Path(__file__).with_name("site.html")
DOCS_FILES = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}


@dataclass
class ServeConfig:
    token: str | None = None
    max_upload_mb: float = 20.0
    max_pixels: int = 40_000_000
    max_files: int = 32
    concurrency: int | None = None  # inferences at once (default: CPU cores)
    # Uploads being received at once, in declared bytes (default: 4 full-size requests), and the
    # time a body may take to arrive: a slow or stalled client cannot hold memory for long.
    max_in_flight_mb: float | None = None
    max_viewers: int = 64  # live MJPEG viewers at once; more get 503 (each costs a socket and a JPEG a frame)
    body_timeout: float = BODY_TIMEOUT_S
    idle_timeout: float = IDLE_TIMEOUT_S
    source: str | None = None
    site: object | None = None  # a video.site.SiteSpec: every camera of it on /site
    review: str | None = None  # a review store: its faces to answer on /review
    settings: Settings = PHOTO  # the upload API's (photos)
    live_settings: Settings = VIDEO  # the live view's (video)
    in_browser: bool = False  # also serve the page that runs the models in the browser, at /local/
    lines: tuple[str, ...] = ()  # the live view's door lines and zones, as --line / --zone give them
    zones: tuple[str, ...] = ()
    # Host headers answered: None answers any (a public bind, behind its token); a loopback bind
    # answers only its own names, so a page elsewhere cannot reach it by DNS rebinding.
    allowed_hosts: frozenset[str] | None = None


class LiveView:
    """Runs the video pipeline on a source in a thread; keeps the latest annotated JPEG and counts."""

    def __init__(self, detector, source: str, sinks=(), counters=()):
        from ..sinks.base import Sink
        from ..video.run import VideoConfig, run_video

        self.source = source
        self.detector = detector
        self.jpeg: bytes | None = None
        self.counts: dict = {}
        self.summary: dict | None = None
        self.frames = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.places: dict = {}  # the lines' and zones' figures, from the once-a-second state
        view = self

        class _Places(Sink):
            name = "live view lines and zones"

            def write(self, record) -> None:
                pass

            def update(self, state: dict) -> None:
                cam = state.get("cameras", {}).get("live", {})
                view.places = {k: cam[k] for k in ("lines", "zones") if k in cam}

        from dataclasses import replace

        from ..settings import VIDEO_DEFAULTS
        from ..video.sources import source_kind

        # A server's live camera is retried for as long as the server runs: after a long outage
        # the view came back (it stayed stopped for the server's life while /livez said ok).
        video = replace(VIDEO_DEFAULTS, reconnect_timeout=LIVE_RECONNECT_S) if source_kind(source) == "stream" else VIDEO_DEFAULTS
        cfg = VideoConfig(
            source=source,
            on_frame=self._on_frame,
            stop=self._stop,
            sinks=[*sinks, _Places()],
            name="live",
            counters=list(counters),
            video=video,
        )

        def target():
            try:
                self.summary = run_video(detector, cfg, log=lambda m: None)
            except Exception as exc:  # the page says so instead of a silent dead stream
                self.summary = {"stopped": f"error: {exc}"}

        self._thread = threading.Thread(target=target, name="maskwatch-live", daemon=True)
        self._thread.start()

    def _on_frame(self, vis, counts) -> None:
        ok, buf = cv2.imencode(".jpg", vis, [cv2.IMWRITE_JPEG_QUALITY, 80])
        with self._cond:
            if ok:
                self.jpeg = buf.tobytes()
            self.counts = counts
            self.frames += 1
            self._cond.notify_all()

    def next_jpeg(self, after: int, timeout: float = 5.0) -> tuple[int, bytes | None]:
        with self._cond:
            self._cond.wait_for(lambda: self.frames > after or self._stop.is_set(), timeout=timeout)
            return self.frames, self.jpeg

    async def next_jpeg_async(self, after: int, timeout: float = 5.0) -> tuple[int, bytes | None]:
        """next_jpeg for the event loop: waits by polling, so a viewer holds no thread (45
        viewers of a stalled camera, each blocking a worker thread, left /livez unanswered)."""
        deadline = time.monotonic() + timeout
        while self.frames <= after and not self._stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(VIEWER_POLL_S)
        return self.frames, self.jpeg

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> dict:
        return {
            "source": self.source,
            "frames": self.frames,
            "running": self.running,
            **self.counts,
            **self.places,
            "stopped": (self.summary or {}).get("stopped"),
        }

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def create_app(cfg: ServeConfig, detector=None):
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
        from starlette.exceptions import HTTPException as StarletteHTTPException
        from starlette.formparsers import MultiPartParser
    except ImportError:
        raise MaskwatchError("the web service needs FastAPI: pip install 'maskwatch[serve]'") from None

    from ..pipeline import Detector

    detector = detector or Detector(cfg.settings)
    max_bytes = int(cfg.max_upload_mb * 1024 * 1024)
    # Starlette spools uploads over 1 MB to a temporary file; keep every allowed upload in memory.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_bytes)
    # The live view runs the video pipeline with video's settings (`maskwatch video`: 1x, no
    # mirrored second look), not the photo settings of the upload API.
    metrics = _metrics(detector)
    state_sinks = [metrics] if metrics is not None else []
    live = None
    if cfg.source:
        from ..video.places import place_counters

        live = LiveView(Detector(cfg.live_settings), cfg.source, state_sinks, place_counters(list(cfg.lines), list(cfg.zones)))
    site = None
    if cfg.site is not None:
        from .site_view import SiteView

        site = SiteView(live.detector if live else Detector(cfg.live_settings), cfg.site, state_sinks)
    # Decoding and inference run on a few dedicated threads, not on the server's large shared
    # pool: more concurrent inferences than cores add no throughput, and every thread that
    # allocates activations keeps its own malloc arena (measured: RSS 1.1 GB after 1,500
    # requests from 8 clients on the shared pool).
    workers = concurrent.futures.ThreadPoolExecutor(cfg.concurrency or max(1, os.cpu_count() or 1), thread_name_prefix="maskwatch-infer")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if live is not None:
            live.close()  # stop the camera thread with the server
        if site is not None:
            site.close()
        workers.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="maskwatch",
        version=detector.info()["version"],
        lifespan=lifespan,
        docs_url=None,  # served below, from files in a wheel: the CDN FastAPI uses is not there offline
        redoc_url=None,
        description="Face-mask detection: upload photos, get faces with mask / no mask / mask worn incorrectly.",
    )
    from .body_guard import BodyGuard

    app.add_middleware(
        BodyGuard,
        max_in_flight=int((cfg.max_in_flight_mb or 4 * cfg.max_upload_mb) * 1024 * 1024),
        body_timeout=cfg.body_timeout,
        idle_timeout=cfg.idle_timeout,
    )
    local_dir = local_tmp = None
    if cfg.in_browser:
        import tempfile

        from ..web.export import export_web

        # Written once at start from the server's own photo models and settings; gone with it.
        local_tmp = tempfile.TemporaryDirectory(prefix="maskwatch-page-")
        local_dir = export_web(local_tmp.name, detector=detector).resolve()
    app.state.detector = detector
    app.state.live = live
    app.state.site = site

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if cfg.allowed_hosts is not None and _host_name(request.headers.get("host", "")) not in cfg.allowed_hosts:
            return error(421, "this server does not answer for that Host (use --allow-host NAME behind a reverse proxy)")
        # With a token, everything is behind it (the docs and schema too) but a bare liveness check.
        # The in-browser page (/local/) is the package's own code and models, no user data, and its
        # module and model requests cannot carry a token: it is open as /livez is.
        if cfg.token and request.url.path != "/livez" and not (local_dir and request.url.path.startswith("/local/")):
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), cfg.token.encode()):
                return error(401, "missing or wrong token: send 'Authorization: Bearer <token>' or ?token=<token>")
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return error(411, "Content-Length required")
            if not length.isdigit() or int(length) > max_bytes:
                return error(413, f"upload too large: the limit is {cfg.max_upload_mb:g} MB per request")
        try:
            return await call_next(request)
        except Exception as exc:  # never a stack trace to the client
            return error(500, f"internal error: {type(exc).__name__}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        return error(422, "bad request: " + "; ".join(str(e.get("msg")) for e in exc.errors()))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/livez", include_in_schema=False)
    async def livez():  # on the event loop: answers even when every worker thread is busy
        return {"status": "ok"}  # tells a load balancer the process is up, and nothing else

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request):
        from urllib.parse import quote

        from fastapi.openapi.docs import get_swagger_ui_html

        token = request.query_params.get("token")
        # The page's own requests carry the token it was opened with, percent-encoded: a query
        # string is never put into the page as it came (it was a reflected script injection).
        suffix = f"?token={quote(token, safe='')}" if token else ""
        return get_swagger_ui_html(
            openapi_url=f"/openapi.json{suffix}",
            title="maskwatch API",
            swagger_js_url=f"/docs/swagger-ui-bundle.js{suffix}",
            swagger_css_url=f"/docs/swagger-ui.css{suffix}",
            swagger_favicon_url=f"/docs/favicon-32x32.png{suffix}",
        )

    @app.get("/docs/{name}", include_in_schema=False)
    def docs_file(name: str):
        from fastapi.responses import FileResponse

        try:
            from swagger_ui_bundle import swagger_ui_path
        except ImportError:
            return error(404, "the API docs need swagger-ui-bundle: pip install 'maskwatch[serve]'")
        if name not in DOCS_FILES:
            return error(404, "not found")
        return FileResponse(Path(swagger_ui_path) / name)

    @app.get("/metrics", include_in_schema=False)
    def metrics_page():
        """Prometheus metrics: photos served, and the live view's or the site's cameras."""
        from fastapi.responses import Response

        if metrics is None:
            return error(404, "metrics need prometheus_client: pip install 'maskwatch[metrics]'")
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/api/health")
    def health():
        return {"status": "ok", "model": detector.info(), "live": live is not None, "in_browser": "/local/" if local_dir else None}

    if local_dir is not None:
        from fastapi.responses import FileResponse

        # Cross-origin isolation lets ONNX Runtime Web use threads (SharedArrayBuffer).
        isolated = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
        app.state.local_page = local_tmp  # the folder lives as long as the app

        @app.get("/local/{name:path}", include_in_schema=False)
        def local_page(name: str):
            if "\x00" in name:
                return error(404, "not found")
            path = (local_dir / (name or "index.html")).resolve()
            if not path.is_relative_to(local_dir) or not path.is_file():
                return error(404, "not found")
            return FileResponse(path, headers=isolated)

    @app.post("/api/detect")
    async def detect(request: Request):
        """Multipart upload of one or more images (any field name). Returns the `maskwatch image --json` schema."""
        try:
            form = await request.form(max_files=cfg.max_files, max_fields=cfg.max_files)
        except Exception as exc:
            return error(400, f"could not read the upload as multipart/form-data: {exc}")
        uploads = [(key, v) for key, v in form.multi_items() if hasattr(v, "read")]
        if not uploads:
            return error(400, "no file in the upload: send images as multipart/form-data fields")
        loop = asyncio.get_running_loop()
        results = []
        for _, up in uploads:
            data = await up.read()
            name = up.filename or "upload"
            t0 = time.perf_counter()
            result = await loop.run_in_executor(workers, _detect_one, detector, data, name, cfg.max_pixels)
            if metrics is not None:
                metrics.photo(time.perf_counter() - t0, result)
            results.append(result)
        body = {"model": detector.info(), "images": [r.to_dict() for r in results]}
        if all(r.error for r in results):
            too_big = any("too large" in r.error for r in results)
            return JSONResponse({"error": "; ".join(r.error for r in results), **body}, status_code=413 if too_big else 422)
        return body

    if live is not None:

        @app.get("/api/stream/stats")
        def stream_stats():
            return live.stats()

        viewers = {"n": 0}

        @app.get("/api/stream.mjpg")
        async def stream():
            if viewers["n"] >= cfg.max_viewers:
                return error(503, f"{cfg.max_viewers} viewers already; try again later")

            async def frames():
                viewers["n"] += 1
                try:
                    seen, t_end = 0, time.monotonic() + 3600  # a viewer reconnects after an hour: no endless response
                    while time.monotonic() < t_end:
                        frame, jpg = await live.next_jpeg_async(seen)
                        if frame == seen or jpg is None:  # no new frame: stop once the source has ended
                            if live.summary is not None or not live.running:
                                return
                            continue
                        seen = frame
                        yield (
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(jpg)).encode()
                            + b"\r\n\r\n"
                            + jpg
                            + b"\r\n"
                        )
                finally:
                    viewers["n"] -= 1

            return StreamingResponse(frames(), media_type="multipart/x-mixed-replace; boundary=frame")

    if cfg.review:
        from ..review.store import ReviewStore
        from .review_routes import add_review_routes

        add_review_routes(app, ReviewStore(cfg.review), error)

    if site is not None:

        @app.get("/site", response_class=HTMLResponse, include_in_schema=False)
        def site_page():
            return HTMLResponse(SITE_PAGE.read_text(encoding="utf-8"))

        @app.get("/api/site")
        def site_state():
            """Every camera: health, people per label, lines, zones, per-minute series; site totals."""
            return site.state()

        @app.get("/api/site/camera/{name}.jpg")
        def site_camera(name: str):
            from fastapi.responses import Response

            jpg = site.jpeg(name)
            if jpg is None:
                return error(
                    404 if name not in site.names else 503, f"no frame from camera {name!r} yet" if name in site.names else "no such camera"
                )
            return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    return app


def _host_name(host: str) -> str:
    """The name of a Host header, without its port; IPv6 in brackets kept as is."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(bind: str, extra=()) -> frozenset[str] | None:
    """The Host names a server bound to `bind` answers: its own and the loopback names for a
    loopback bind, plus `extra`; None (any) for a public bind without `extra`."""
    import ipaddress

    try:
        loopback = bind == "localhost" or ipaddress.ip_address(bind).is_loopback
    except ValueError:
        loopback = False
    names = {h.strip().lower() for h in extra if h.strip()}
    if not loopback and not names:
        return None
    if loopback:
        names |= {"localhost", "127.0.0.1", "[::1]", bind.lower() if ":" not in bind else f"[{bind.lower()}]"}
    return frozenset(names)


def _metrics(detector):
    """The server's Prometheus sink, or None without prometheus_client (then /metrics says so)."""
    try:
        from ..sinks.prometheus import PrometheusSink

        return PrometheusSink(detector.classifier.labels, camera="live")
    except ValueError:
        return None


def _detect_one(detector, data: bytes, name: str, max_pixels: int) -> ImageResult:
    try:
        image = decode_image(data, name=name, max_pixels=max_pixels)
    except ValueError as exc:
        return ImageResult(file=name, error=str(exc))
    h, w = image.shape[:2]
    return ImageResult(file=name, width=w, height=h, faces=detector.detect(image))
