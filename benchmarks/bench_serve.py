"""Load test of `maskwatch serve` on loopback: concurrent clients posting real photos.

    python benchmarks/bench_serve.py --images ../shared/data/kaggle-853/images --clients 8 --requests 500

Starts the server as its own process (as users run it), sends the requests from a thread pool,
and reports throughput, latency percentiles, errors, and the server's RSS before and after.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(port: int, name: str, data: bytes) -> tuple[int, float]:
    boundary = "bench"
    body = (
        (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n').encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/api/detect", body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.perf_counter() - t0
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default="../shared/data/kaggle-853/images")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--model", help="classifier .onnx (default: the shipped one)")
    args = ap.parse_args()
    photos = sorted(Path(args.images).glob("*.jpg"))[: args.requests]
    payloads = [(p.name, p.read_bytes()) for p in photos]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "maskwatch.cli", "serve", "--port", str(port), *(["--model", args.model] if args.model else [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        post(port, *payloads[0])  # warm-up
        before = rss_mb(server.pid)
        jobs = [payloads[i % len(payloads)] for i in range(args.requests)]
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(lambda job: post(port, *job), jobs))
        wall = time.perf_counter() - t0
        after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    lat = sorted(r[1] for r in results)
    errors = sum(1 for r in results if r[0] != 200)
    print(f"{args.requests} requests of {len(payloads)} kaggle-853 photos, {args.clients} concurrent clients, server on 127.0.0.1")
    print(
        f"throughput {args.requests / wall:.1f} req/s; latency p50 {1000 * statistics.median(lat):.0f} ms, "
        f"p95 {1000 * lat[int(0.95 * len(lat)) - 1]:.0f} ms, max {1000 * lat[-1]:.0f} ms; errors {errors}"
    )
    print(f"server RSS before {before:.0f} MB, after {after:.0f} MB")


if __name__ == "__main__":
    main()
