"""Running the photo pipeline over many files: in this process, in N worker processes, or on Ray.

The whole job as one library call is photo_job.run_batch (over these engines and the sinks).

Each engine yields ImageResults in input order and never holds more than a few in memory.
Annotated images are drawn and written where the image was decoded (the worker), so pixels
never travel between processes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

from .imageio import is_url
from .settings import PHOTO, Settings
from .types import ImageResult


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
            return ImageResult(file=path, error=f"internal error: {type(exc).__name__}: {exc}", retry=True)
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
                result.retry = True
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
                    yield ImageResult(file=p, error=WORKER_DIED, retry=True)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = new_pool()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
