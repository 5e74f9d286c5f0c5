"""`maskwatch image` as a library call: files, settings and sinks in, a report out.

Every result goes to every sink in input order; a bad file is one result with an error, never
an exception; the engines (this process, worker processes, a Ray cluster) are batch.py's and
ray_engine.py's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .batch import JobSpec, duplicate_stems, run_local
from .imageio import is_url
from .settings import PHOTO, Settings
from .types import LABELS, ImageResult


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
                try:
                    s.write(result)
                except OSError as exc:  # a full disk: say which output (the others are whole up to here)
                    where = getattr(s, "path", None) or getattr(s, "name", "output")
                    raise OSError(exc.errno, f"cannot write {where}: {exc.strerror or exc}") from None
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
