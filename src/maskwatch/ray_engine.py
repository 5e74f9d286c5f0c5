"""The same batch job on a Ray cluster with Ray Data (optional extra: pip install 'maskwatch[ray]').

read_binary_files -> map_batches on an actor pool (models load once per actor) -> results stream
back in input order to the driver, which writes them through the same sinks as a local run.
Paths may be local or any URI Ray/pyarrow understand (s3://, gs://, abfs://, hdfs://...).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Iterator

from .batch import FileProcessor, JobSpec
from .errors import MaskwatchError
from .types import ImageResult

INSTALL_HINT = "pip install 'maskwatch[ray]'"


class _Predictor:
    """Ray actor: one pipeline per actor, reused for every batch it gets."""

    def __init__(self, job: JobSpec):
        self.proc = FileProcessor(job)

    def __call__(self, batch: dict) -> dict:
        out = []
        for path, data in zip(batch["path"], batch["bytes"]):
            out.append(json.dumps(self.proc(str(path), bytes(data)).to_dict()))
        return {"result": out}


def run_ray(
    files: list[str], job: JobSpec, workers: int = 0, address: str | None = None, local_cpus: int | None = None
) -> Iterator[ImageResult]:
    try:
        import ray
        import ray.data
    except ImportError:
        raise MaskwatchError(f"--engine ray needs Ray: {INSTALL_HINT}") from None

    import logging

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # Ray Data's INFO lines would drown our output
    if not ray.is_initialized():
        # address=None starts a local cluster; "auto" or "ray://host:10001" joins an existing one.
        ray.init(
            address=address,
            num_cpus=local_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
            logging_level=logging.WARNING,
        )
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # results come back in input order
    ctx.enable_progress_bars = False
    n_actors = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    # Each actor single-threaded, one per CPU: the cluster's parallelism is the actors.
    job = replace(job, settings=job.settings.but(threads=1))
    # Reading is I/O: a sliver of CPU, so n_actors x 0.9 + reads fit the cluster (with a whole CPU
    # per actor the reads never get scheduled and the job stalls).
    # Local paths absolute: the tasks run in other working directories (on other nodes, too).
    paths = [f if "://" in f else os.path.abspath(f) for f in files]
    ds = ray.data.read_binary_files(paths, include_paths=True, ignore_missing_paths=False, num_cpus=0.1)
    ds = ds.map_batches(
        _Predictor, fn_constructor_kwargs={"job": job}, batch_size=8, compute=ray.data.ActorPoolStrategy(size=n_actors), num_cpus=0.9
    )
    # Give results back under the names the user gave.
    given = {os.path.abspath(f): f for f in files if "://" not in f}
    for row in ds.iter_rows():
        result = ImageResult.from_dict(json.loads(row["result"]))
        result.file = given.get(os.path.abspath(result.file), result.file) if "://" not in result.file else result.file
        yield result
