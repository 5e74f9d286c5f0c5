"""Batch throughput and memory of `maskwatch image` over thousands of photos.

    python benchmarks/bench_batch.py --data ../shared/data --count 5000

Collects the photos under --data (prajna, mask-4k and kaggle-853: 5,585 real photos; repeated
if --count asks for more), links them into one folder, and runs the CLI as a user would
(`--jsonl`, no annotated images) with 1 worker, 2 workers and Ray on a local 2-CPU cluster,
then in-process with a tenth of the photos and with all of them to show peak RSS does not grow
with the count (RSS sampled every 0.5 s: the peak follows the largest photo met, the median is
the steady state). Each run is its own process; peak RSS is the largest single process's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from entry_point import maskwatch_command

WRAP = (
    "import resource, subprocess, sys, json, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(json.dumps({'rc': rc, 'seconds': time.perf_counter() - t, "
    "'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
)


def run(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def link_photos(data: Path, count: int, folder: Path, step: int = 1) -> int:
    """Link `count` photos (repeating the collection if needed); with step=10, every 10th of them,
    so a smaller run has the same mix of image sizes (memory depends on size, not count)."""
    photos = sorted(p for p in data.rglob("*.jpg") if p.is_file())
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(0, count, step):
        src = photos[i % len(photos)]
        os.symlink(src.resolve(), folder / f"{i:06d}_{src.name}")
    return len(photos)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--upscale", default="1", help="detector upscale (these are mostly close-up photos)")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="only the in-process 1/10 vs all run")
    args = ap.parse_args()

    exe = maskwatch_command()  # the installed entry point, as a user runs it
    tmp = Path(tempfile.mkdtemp())
    n_unique = link_photos(Path(args.data), args.count, tmp / "all")
    link_photos(Path(args.data), args.count, tmp / "tenth", step=10)
    # The same tenth repeated 10 times: the count grows 10x with exactly the same image sizes.
    tenth = sorted((tmp / "tenth").iterdir())
    (tmp / "tenth_x10").mkdir()
    for k in range(10):
        for f in tenth:
            os.symlink(os.readlink(f), tmp / "tenth_x10" / f"{k}_{f.name}")
    print(f"{args.count} photos ({n_unique} distinct real photos, repeated) on {os.cpu_count()} CPU cores, upscale {args.upscale}")
    base = ["image", "--no-save", "-q", "--no-progress", "--upscale", args.upscale]
    results = {}
    configs = [] if args.memory_only else [("1 worker", ["--workers", "1"]), ("2 workers", ["--workers", "2"])]
    if not args.skip_ray and not args.memory_only:
        configs.append(("Ray local (2 CPUs)", ["--engine", "ray"]))
    for name, extra in configs:
        out = tmp / f"{name.split()[0]}.jsonl"
        r = run([*exe, *base, str(tmp / "all"), "--jsonl", str(out), *extra])
        lines = sum(1 for _ in open(out))
        r["images_per_s"] = lines / r["seconds"]
        results[name] = r
        print(
            f"{name:20s}: {r['images_per_s']:6.1f} images/s ({lines} lines, {r['seconds']:.0f} s, exit {r['rc']}), "
            f"peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    if "1 worker" in results and "2 workers" in results:
        print(f"2 workers / 1 worker: {results['2 workers']['images_per_s'] / results['1 worker']['images_per_s']:.2f}x")
    for label, folder in (
        ("in-process, 1/10 of the photos", "tenth"),
        ("in-process, that 1/10 repeated 10x", "tenth_x10"),
        ("in-process, all photos", "all"),
    ):
        out = tmp / f"{folder}.jsonl"
        t0 = time.perf_counter()
        proc = subprocess.Popen([*exe, *base, str(tmp / folder), "--jsonl", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = []
        while proc.poll() is None:
            try:
                samples.append(int(open(f"/proc/{proc.pid}/status").read().split("VmRSS:")[1].split()[0]) / 1024)
            except (OSError, IndexError):
                pass
            time.sleep(0.5)
        seconds = time.perf_counter() - t0
        lines = sum(1 for _ in open(out))
        steady = sorted(samples[len(samples) // 4 :]) or [0]  # after start-up
        print(
            f"{label:36s}: {lines} images, {lines / seconds:.1f} images/s, RSS median {steady[len(steady) // 2]:.0f} MB, "
            f"max {max(samples, default=0):.0f} MB ({len(samples)} samples)"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
