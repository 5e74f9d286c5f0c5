"""runtime = "auto": the fastest runtime for one model on this machine.

Measured once, on the model's own input shape (a batch of 8 crops, or a 720x544 frame for a
detector), and kept in a small cache keyed by the model's sha256, the CPU, the thread count, the
candidates and the runtimes' versions. OpenVINO's bfloat16 is a candidate where the CPU has it:
it passed #48's gate on 2026-12-08 (mAP50 within 0.001 of float32 on kaggle-853 `test` and ilc2021
`val`; the counting benchmark's people, door counts and per-class counts within 3 people of 360,
IDF1 and MOTA unchanged, at 5 and 25 fps; README, Accuracy and speed).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

CANDIDATES = ("onnxruntime", "openvino", "openvino-bf16")  # each skipped where it cannot run
SAMPLE_HW = (544, 720)  # a detector's dynamic input: a video frame as the detector sees it
REPEATS = 10


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "maskwatch" / "runtimes.json"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> str:
    import onnxruntime

    try:
        import openvino

        ov = openvino.__version__
    except ImportError:
        ov = None
    return f"ort {onnxruntime.__version__}, openvino {ov}"


def _samples(session) -> list[dict]:
    """Inputs as the model will see them: a batch of crops, or frames of two sizes in turn (a
    folder of photos changes size at every photo, which costs a runtime that compiles per shape)."""
    out = []
    for hw in (SAMPLE_HW, (SAMPLE_HW[0] - 64, SAMPLE_HW[1] - 96)):
        feeds = {}
        for port in session.get_inputs():
            shape = list(port.shape)
            if len(shape) == 4 and shape[-1] == 3:  # NHWC crops: 8 of them
                shape = [8 if not isinstance(d, int) else d for d in shape[:1]] + shape[1:]
            elif len(shape) == 4:  # NCHW frame
                shape = [1, 3, *hw]
            shape = [d if isinstance(d, int) else 1 for d in shape]
            feeds[port.name] = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
        out.append(feeds)
    return out


def _time(session, samples: list[dict]) -> float:
    for feeds in samples:
        session.run(None, feeds)
    times = []
    for i in range(REPEATS):
        t0 = time.perf_counter()
        session.run(None, samples[i % len(samples)])
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def fastest(model: bytes | str, threads: int | None = None, log=lambda m: None) -> str:
    data = model if isinstance(model, bytes) else Path(model).read_bytes()
    key = f"{hashlib.sha256(data).hexdigest()[:16]}|{_cpu()}|{threads or os.cpu_count()}|{','.join(CANDIDATES)}|{_versions()}"
    path = cache_file()
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]["runtime"]
    from . import make_session

    timings = {}
    for name in CANDIDATES:
        try:
            session = make_session(model, threads, name)
        except ValueError:  # OpenVINO not installed, or no bfloat16 on this CPU: not a candidate
            continue
        timings[name] = _time(session, _samples(session))
    best = min(timings, key=timings.get)
    cache[key] = {"runtime": best, "seconds_per_run": {k: round(v, 5) for k, v in timings.items()}}
    try:  # written beside and renamed: two processes measuring at once never leave half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: measured again next time
    log(f"runtime auto: {best} ({', '.join(f'{k} {v * 1000:.1f} ms' for k, v in timings.items())})")
    return best
