"""Running the photo pipeline over many files: in this process, in N worker processes, or on Ray.

`run_batch(files, settings, sinks)` is the whole job as a library call (`maskwatch image` is a
thin layer over it): every result goes to every sink, a bad file is one result with an error.

Each engine yields ImageResults in input order and never holds more than a few in memory.
Annotated images are drawn and written where the image was decoded (the worker), so pixels
never travel between processes.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .imageio import is_url
from .settings import PHOTO, Settings
from .types import LABELS, ImageResult


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to build its own pipeline (picklable)."""

    settings: Settings = PHOTO
    out_dir: str | None = None
    duplicate_stems: frozenset[str] = frozenset()
    blur: bool = False  # pixelate the faces in the annotated copies


def _stem(path: str) -> str:
    """File stem of a path, or of a URL's path part (no query), safe as a file name."""
    if is_url(path):
        from urllib.parse import unquote, urlsplit

        stem = Path(unquote(urlsplit(path).path)).stem
        return re.sub(r"[^A-Za-z0-9._-]", "_", stem) or "image"
    return Path(path).stem


def output_name(path: str, duplicate_stems: frozenset[str]) -> str:
    """Annotated file name: the input's stem, plus a hash of its path when stems collide."""
    stem = _stem(path)
    if stem in duplicate_stems:
        stem += "_" + hashlib.sha1(path.encode()).hexdigest()[:8]
    return stem + ".jpg"


def duplicate_stems(files: Iterable[str]) -> frozenset[str]:
    counts = Counter(_stem(f) for f in files)
    return frozenset(s for s, n in counts.items() if n > 1)


class FileProcessor:
    """Decode, detect, classify, draw, write: one file in, one ImageResult out, never raising."""

    def __init__(self, job: JobSpec, detector=None):
        from .annotate import FaceAnnotator
        from .pipeline import Detector

        self.job = job
        self.detector = detector or Detector(job.settings)
        self.annotator = FaceAnnotator()

    def __call__(self, path: str, data: bytes | None = None) -> ImageResult:
        try:
            result, image = self.detector.process_file(path, data)
        except Exception as exc:  # a bug on one odd file must not end a million-file run
            return ImageResult(file=path, error=f"internal error: {type(exc).__name__}: {exc}")
        if image is not None and self.job.out_dir:
            import cv2

            from .annotate import blur_faces

            if self.job.blur:
                blur_faces(image, [f.box for f in result.faces])
            target = Path(self.job.out_dir) / output_name(path, self.job.duplicate_stems)
            # Encoded in memory and written by Python: OpenCV's path APIs cannot take every file
            # name (a name that is not UTF-8 crashed cv2.imwrite outright).
            try:
                ok, buf = cv2.imencode(".jpg", self.annotator.annotate(image, result.faces))
                if ok:
                    target.write_bytes(buf.tobytes())
            except (cv2.error, OSError):
                ok = False
            if not ok:
                result.error = f"faces found, but the annotated image {target} could not be written"
        return result


# -- worker processes -----------------------------------------------------------------------
_WORKER: FileProcessor | None = None


def _init_worker(job: JobSpec) -> None:
    global _WORKER  # one pipeline per worker process, built once
    _die_with_parent()
    _WORKER = FileProcessor(job)


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when the process that started it dies (even by SIGKILL),
    so a killed run leaves no orphans holding memory and its stdout."""
    import ctypes
    import os
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _work(path: str) -> ImageResult:
    return _WORKER(path)


def run_local(files: list[str], job: JobSpec, workers: int = 0, detector=None) -> Iterator[ImageResult]:
    """workers=0: this process, all cores (with `detector` when given); workers=N: N processes
    with one inference thread each."""
    if workers <= 0:
        proc = FileProcessor(job, detector)
        for path in files:
            yield proc(path)
        return
    # Each worker single-threaded: N busy processes scale better than N threads in one.
    job = replace(job, settings=job.settings.but(threads=1))
    yield from _run_pool(files, job, workers)


# A file whose worker died (OOM killer, a codec crash) is tried once more, alone in a fresh worker;
# if that one dies too, the file gets this error and the run goes on.
WORKER_DIED = "the worker process died while reading this file (tried twice)"


def _run_pool(files: list[str], job: JobSpec, workers: int, work=_work) -> Iterator[ImageResult]:
    """Results in input order from a process pool, at most 4 files per worker in flight (`work`
    runs in the worker: _work, or a stand-in in tests).

    concurrent.futures notices a dead worker at once (BrokenProcessPool); multiprocessing.Pool
    would wait forever for its results."""
    import multiprocessing as mp
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")  # no inherited ONNX Runtime thread pools

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(job,))

    pool = new_pool()
    in_flight: deque = deque()
    todo = iter(files)
    try:
        while True:
            while len(in_flight) < 4 * workers and (path := next(todo, None)) is not None:
                in_flight.append((path, pool.submit(work, path)))
            if not in_flight:
                return
            path, future = in_flight.popleft()
            try:
                yield future.result()
                continue
            except BrokenProcessPool:
                pass
            # Every file in flight lost its worker: retry them one at a time, so a file that kills
            # its worker again is known for sure.
            lost = [(path, future), *in_flight]
            in_flight.clear()
            pool.shutdown(wait=False, cancel_futures=True)
            pool = new_pool()
            for p, f in lost:
                if f.done() and not f.cancelled() and f.exception() is None:
                    yield f.result()
                    continue
                try:
                    yield pool.submit(work, p).result()
                except BrokenProcessPool:
                    yield ImageResult(file=p, error=WORKER_DIED)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = new_pool()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class BatchReport:
    """What a batch run did: files processed, how many failed, faces per label."""

    processed: int = 0
    failed: int = 0
    totals: dict = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    interrupted: bool = False


def run_batch(
    files: list[str],
    settings: Settings = PHOTO,
    sinks: list | None = None,
    out_dir: str | None = None,
    blur: bool = False,
    workers: int = 0,
    engine: str = "local",
    address: str | None = None,
    on_result: Callable[[ImageResult], None] | None = None,
    progress: bool = False,
    detector=None,
    log=lambda message: None,
) -> BatchReport:
    """Run the photo pipeline over `files` (paths, URLs, or URIs with engine="ray").

    sinks: open Sinks (sinks.photo_sinks), each given every result in input order; out_dir: where
    annotated copies go (None: none); on_result: called per result (for a report); detector: a
    pipeline.Detector already built (its settings then win over `settings`). A Ctrl-C stops the
    run with what was written kept (report.interrupted)."""
    import os

    if detector is not None:
        settings = detector.settings

    if workers < 0:
        raise ValueError("workers must be 0 or more")
    cores = os.cpu_count() or 1
    if workers > max(cores, 1) or workers > len(files):
        # Each worker holds its own models (~150 MB): more than cores or files buys nothing.
        capped = max(1, min(workers, cores, len(files)))
        if workers > cores:
            log(f"--workers {workers} is more than this machine's {cores} cores: using {capped}")
        workers = capped
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be local or ray, not {engine!r}")
    if engine == "ray" and any(is_url(f) for f in files):
        raise ValueError("--engine ray reads local paths and s3://, gs://, ... URIs, not http(s) URLs: run those with the local engine")
    if detector is None and (workers > 0 or engine == "ray"):
        # Fail here, in one line, rather than in every worker (a failing Pool initializer respawns forever).
        from .pipeline import Detector

        Detector(settings.but(threads=1))
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    job = JobSpec(settings, out_dir, duplicate_stems(files), blur=blur)
    if engine == "ray":
        from .ray_engine import run_ray

        # Ray's reader fails the whole job on a missing path: report those here instead.
        missing = [f for f in files if "://" not in f and not os.path.exists(f)]
        missing_set = set(missing)
        present = [f for f in files if f not in missing_set]
        results = itertools.chain(
            [ImageResult(file=f, error=f"cannot read {f}: No such file or directory") for f in missing],
            run_ray(present, job, workers=workers, address=address) if present else [],
        )
    else:
        results = run_local(files, job, workers=workers, detector=detector if workers <= 0 else None)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=len(files), unit="img", desc="maskwatch", dynamic_ncols=True)
    report = BatchReport()
    try:
        for result in results:
            report.processed += 1
            for s in sinks or ():
                s.write(result)
            if result.error:
                report.failed += 1
            else:
                for label, k in result.counts().items():
                    report.totals[label] = report.totals.get(label, 0) + k
            if on_result:
                on_result(result)
    except KeyboardInterrupt:
        report.interrupted = True
    return report
