"""Running the photo pipeline over many files: in this process, in N worker processes, or on Ray.

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
from .types import ImageResult


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to build its own pipeline (picklable)."""

    detector_kwargs: dict
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

    def __init__(self, job: JobSpec):
        from .annotate import FaceAnnotator
        from .pipeline import Detector

        self.job = job
        self.detector = Detector(**job.detector_kwargs)
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
            try:
                ok = cv2.imwrite(str(target), self.annotator.annotate(image, result.faces))
            except cv2.error:
                ok = False
            if not ok:
                result.error = f"faces found, but the annotated image {target} could not be written"
        return result


# -- worker processes -----------------------------------------------------------------------
_WORKER: FileProcessor | None = None


def _init_worker(job: JobSpec) -> None:
    global _WORKER  # one pipeline per worker process, built once
    _WORKER = FileProcessor(job)


def _work(path: str) -> ImageResult:
    return _WORKER(path)


def run_local(files: list[str], job: JobSpec, workers: int = 0) -> Iterator[ImageResult]:
    """workers=0: this process, all cores; workers=N: N processes with one inference thread each."""
    if workers <= 0:
        proc = FileProcessor(job)
        for path in files:
            yield proc(path)
        return
    import multiprocessing as mp

    # Each worker single-threaded: N busy processes scale better than N threads in one.
    job = replace(job, detector_kwargs={**job.detector_kwargs, "threads": 1})
    ctx = mp.get_context("spawn")  # no inherited ONNX Runtime thread pools
    with ctx.Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
        # Bounded in flight: imap pulls lazily and yields in order.
        yield from pool.imap(_work, files, chunksize=4)
