"""Make a video clip from still photos by slowly panning and zooming over each (demos, tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .imageio import read_image


def pan_frames(image: np.ndarray, n: int, size: tuple[int, int] = (640, 480), zoom: float = 1.15):
    """n frames of a camera drifting across `image` while zooming in by `zoom`."""
    w, h = size
    base = max(w / image.shape[1], h / image.shape[0]) * 1.05  # cover the frame, with room to pan
    for k in range(n):
        f = k / max(n - 1, 1)
        s = base * (1 + (zoom - 1) * f)
        big_w, big_h = image.shape[1] * s, image.shape[0] * s
        ox, oy = (big_w - w) * f, (big_h - h) * 0.5 * f
        m = np.array([[s, 0, -ox], [0, s, -oy]], np.float32)
        yield cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def make_pan_clip(
    photos: list[str | Path], path: str | Path, frames_per_photo: int = 60, fps: float = 30.0, size: tuple[int, int] = (640, 480)
) -> int:
    """Write an .mp4 (mp4v) or .avi (MJPG) clip; returns the number of frames written."""
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if str(path).lower().endswith(".avi") else "mp4v"))
    vw = cv2.VideoWriter(str(path), fourcc, fps, size)
    if not vw.isOpened():
        raise ValueError(f"cannot write {path}")
    n = 0
    try:
        for p in photos:
            for frame in pan_frames(read_image(p), frames_per_photo, size):
                vw.write(frame)
                n += 1
    finally:
        vw.release()
    return n
