"""Video throughput and memory: end to end (decode -> detect -> classify -> track -> draw -> encode).

    python benchmarks/bench_video.py --images ../shared/data/kaggle-853/images [--stream-minutes 10]

Builds a 640x480, 30 fps clip by panning and zooming over real photos with 1-5 annotated faces,
runs it with detection on every frame and on every 3rd frame, and prints fps and the per-stage
breakdown. With --stream-minutes, serves the clip in a loop as an HTTP MJPEG stream on 127.0.0.1
and runs on it live for that long, sampling the process RSS every 10 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pick_photos(images_dir: Path, annotations: Path | None, n: int) -> list[Path]:
    if annotations and annotations.is_file():
        data = json.loads(annotations.read_text())
        chosen = [annotations.parent / im["file"] for im in data["images"] if 1 <= len(im["boxes"]) <= 5]
        return chosen[:n]
    return sorted(images_dir.glob("*.jpg"))[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default="../shared/data/kaggle-853/images")
    ap.add_argument("--photos", type=int, default=20, help="photos in the clip, 30 frames (1 s) each")
    ap.add_argument("--stream-minutes", type=float, default=0)
    ap.add_argument("--model", help="classifier .onnx (default: the shipped one)")
    args = ap.parse_args()

    from maskwatch.clips import make_pan_clip, pan_frames
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector
    from maskwatch.settings import VIDEO, VideoSettings
    from maskwatch.video.run import VideoConfig, run_video

    images = Path(args.images)
    photos = pick_photos(images, images.parent / "annotations.json", args.photos)
    tmp = Path(tempfile.mkdtemp())
    clip = tmp / "clip.mp4"
    n = make_pan_clip(photos, clip, frames_per_photo=30)
    print(f"clip: {n} frames of 640x480 at 30 fps from {len(photos)} photos with 1-5 faces each")
    det = Detector(VIDEO, classifier=args.model)  # as `maskwatch video` runs it
    for every in (1, 3):
        cfg = VideoConfig(source=str(clip), out=str(tmp / f"out{every}.mp4"), video=VideoSettings(detect_every=every))
        s = run_video(det, cfg, log=lambda m: None)
        print(
            f"detect every {every}: {s['fps']:.1f} fps end to end ({s['frames']} frames, {s['people']} people); "
            f"ms/frame {s['timing_ms_per_frame']}"
        )

    if args.stream_minutes:
        from mjpeg_server import MjpegServer

        frames = [f for p in photos for f in pan_frames(read_image(p), 30)]
        server = MjpegServer(frames, fps=30, max_seconds=args.stream_minutes * 60 + 30).start()
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.wait(10):
                samples.append(round(rss_mb(), 1))

        threading.Thread(target=sample, daemon=True).start()
        start_rss = rss_mb()
        max_frames = int(args.stream_minutes * 60 * 30)
        s = run_video(
            det,
            VideoConfig(source=server.url, out=str(tmp / "stream.mp4"), events=str(tmp / "ev.jsonl"), max_frames=max_frames),
            log=lambda m: None,
        )
        stop.set()
        server.stop()
        print(
            f"live stream {args.stream_minutes:g} min: {s['frames']} frames processed, {s['frames_dropped']} dropped, "
            f"{s['people']} people, {s['fps']:.1f} fps; RSS start {start_rss:.0f} MB, end {rss_mb():.0f} MB, "
            f"samples every 10 s: min {min(samples, default=0):.0f} / max {max(samples, default=0):.0f} MB"
        )
        print(f"RSS series (MB): {samples}")


if __name__ == "__main__":
    main()
