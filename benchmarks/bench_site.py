"""How many cameras one process holds in real time: N live MJPEG cameras (640x480, 25 fps, real
photos with faces, panned) served from another process on 127.0.0.1, all run by one `maskwatch
site` at 5 analysed fps for --seconds; or, with --separate, N `maskwatch site` processes of one
camera each (each with its own models), side by side.

    python benchmarks/bench_site.py --images ../shared/data/kaggle-853/images --cameras 4 8 12 --seconds 40

Per N it prints the analysed fps per camera (min / mean), the lag from a frame's arrival to the
end of its analysis (max over cameras of each camera's last), frames dropped, and CPU seconds per
camera per second. A camera holds real time when it analysed at least 95 % of 5 fps with lag < 1 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVE = """
import sys, time
sys.path.insert(0, {tests!r})
from mjpeg_server import MjpegServer
from maskwatch.clips import pan_frames
from maskwatch.imageio import read_image
photos = {photos!r}
frames = [f for p in photos for f in pan_frames(read_image(p), 25)]
servers = [MjpegServer(frames[k * 7:] + frames[:k * 7], fps=25, max_seconds={seconds} + 60).start() for k in range({n})]
print(" ".join(s.url for s in servers), flush=True)
time.sleep({seconds} + 60)
"""


def pick_photos(images: Path, n: int = 8) -> list[str]:
    ann = images.parent / "annotations.json"
    if ann.is_file():
        data = json.loads(ann.read_text())
        return [str(ann.parent / im["file"]) for im in data["images"] if 1 <= len(im["boxes"]) <= 5][:n]
    return [str(p) for p in sorted(images.glob("*.jpg"))[:n]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(ports: list[int]) -> dict[tuple[str, str], float]:
    """(metric, camera) -> value of the frame counters, from each site's own /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in ("maskwatch_frames_analysed_total", "maskwatch_frames_dropped_total", "maskwatch_detect_scale"):
                    out[(sample.name, sample.labels.get("camera", ""))] = sample.value
    return out


def run_sites(
    urls: list[str], per_process: int, seconds: float, tmp: Path, fps: float, extra: list[str], scale, steady_from: float | None = None
) -> tuple[list[dict], dict | None]:
    """Start ceil(len/per_process) site processes, stop them after `seconds`; their summaries, and
    with `steady_from` each camera's analysed fps, dropped frames and scale from then to the end
    (read from the sites' Prometheus endpoints), so a start-up transient is left out."""
    procs, outs, ports = [], [], []
    scale = f'"{scale}"' if scale == "auto" else scale
    for g in range(0, len(urls), per_process):
        site = tmp / f"site{g}.toml"
        site.write_text(
            "".join(
                f'[[cameras]]\nname = "cam{g + k}"\nsource = "{u}"\ndetect_fps = {fps}\ndetect_scale = {scale}\n\n'
                for k, u in enumerate(urls[g : g + per_process])
            )
        )
        out = tmp / f"site{g}.json"
        cmd = [sys.executable, "-m", "maskwatch.cli", "site", str(site), "--summary", str(out), *extra]
        if steady_from is not None:
            ports.append(free_port())
            cmd += ["--metrics-port", str(ports[-1])]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        outs.append(out)
    steady = None
    if steady_from is None:
        time.sleep(seconds)
    else:
        time.sleep(steady_from)
        t0, a = time.monotonic(), scrape(ports)
        time.sleep(seconds - steady_from)
        t1, b = time.monotonic(), scrape(ports)
        cams = {c for _, c in b}
        steady = {
            c: {
                "fps": (b[("maskwatch_frames_analysed_total", c)] - a.get(("maskwatch_frames_analysed_total", c), 0)) / (t1 - t0),
                "dropped": b[("maskwatch_frames_dropped_total", c)] - a.get(("maskwatch_frames_dropped_total", c), 0),
                "scale": b.get(("maskwatch_detect_scale", c)),
            }
            for c in cams
        }
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=120)
    return [json.loads(o.read_text()) for o in outs], steady


def scale_arg(text: str):
    return "auto" if text == "auto" else float(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", default="../shared/data/kaggle-853/images")
    ap.add_argument("--cameras", type=int, nargs="+", default=[4, 8, 12])
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--detect-fps", type=float, default=5.0)
    ap.add_argument("--separate", action="store_true", help="N processes of one camera each instead of one process")
    ap.add_argument(
        "--detect-scale", type=scale_arg, default=1.0, help='every camera\'s detect_scale, a number or "auto" (default: 1, the whole frame)'
    )
    ap.add_argument(
        "--steady-from",
        type=float,
        help="also print each camera's analysed fps, drops and scale from this many seconds into the run to its end "
        "(from the sites' /metrics; leaves out a start-up transient such as detect_scale auto settling)",
    )
    ap.add_argument("--site-args", default="", help='options for every site process, e.g. "--threads 1" or "--upscale 0.75"')
    args = ap.parse_args()
    photos = pick_photos(Path(args.images))
    print(f"detect_scale {args.detect_scale}; site options: {args.site_args or '(defaults)'}")
    print(f"{'mode':9s} {'N':>3s} {'fps min/mean':>13s} {'lag max s':>10s} {'dropped':>8s} {'CPU s/cam/s':>12s}  real time")
    for n in args.cameras:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE.format(tests=str(ROOT / "tests"), photos=photos, n=n, seconds=args.seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        urls = server.stdout.readline().split()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                summaries, steady = run_sites(
                    urls,
                    1 if args.separate else n,
                    args.seconds,
                    Path(tmp),
                    args.detect_fps,
                    shlex.split(args.site_args),
                    args.detect_scale,
                    args.steady_from,
                )
                cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            server.kill()
            server.wait()
        cams = [c for s in summaries for c in s["cameras"].values()]
        fps = [c["health"]["fps"] for c in cams]  # analysed frames per second of the camera's run
        lag = max(c["health"]["lag_s"] for c in cams)
        dropped = sum(c["health"]["frames_dropped"] for c in cams)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        ok = min(fps) >= 0.95 * args.detect_fps and lag < 1.0
        print(
            f"{'separate' if args.separate else 'one':9s} {n:3d} {min(fps):6.2f}/{sum(fps) / len(fps):5.2f} {lag:10.2f} {dropped:8d} "
            f"{cpu / n / args.seconds:12.3f}  {'yes' if ok else 'no'}",
            flush=True,
        )
        if steady:
            sf = [v["fps"] for v in steady.values()]
            scales = sorted({v["scale"] for v in steady.values() if v["scale"] is not None})
            ok = min(sf) >= 0.95 * args.detect_fps
            print(
                f"{'':9s}     from {args.steady_from:g} s: fps min/mean {min(sf):.2f}/{sum(sf) / len(sf):.2f}, "
                f"dropped {int(sum(v['dropped'] for v in steady.values()))}, scale at the end {scales}  {'yes' if ok else 'no'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
