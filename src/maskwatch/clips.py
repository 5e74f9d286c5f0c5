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


def face_sprite(image: np.ndarray, box, height: int = 110, margin: float = 0.25) -> np.ndarray:
    """A face cut from a photo with some context around it, scaled to `height` px (walk clips)."""
    x1, y1, x2, y2 = box
    mw, mh = (x2 - x1) * margin, (y2 - y1) * margin
    h, w = image.shape[:2]
    crop = image[max(0, int(y1 - mh)) : min(h, int(y2 + mh)), max(0, int(x1 - mw)) : min(w, int(x2 + mw))]
    s = height / crop.shape[0]
    return cv2.resize(crop, (max(1, round(crop.shape[1] * s)), height), interpolation=cv2.INTER_CUBIC)


def make_walk_clip(
    sprites: list[np.ndarray],
    walks: list[tuple[int, float, float, float, int, int]],
    path: str | Path,
    frames: int,
    fps: float = 25.0,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
) -> int:
    """A clip of faces walking across a still, textured background: each walk is (sprite, x0, x1,
    y, first frame, last frame), the face's centre moving from x0 to x1 (fractions of the width)
    at height y. Known crossings for line and zone tests and benchmarks."""
    w, h = size
    rng = np.random.default_rng(seed)
    noise = rng.normal(120, 35, (h // 8, w // 8, 3)).clip(0, 255).astype(np.uint8)
    background = cv2.GaussianBlur(cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 3)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if str(path).lower().endswith(".avi") else "mp4v"))
    vw = cv2.VideoWriter(str(path), fourcc, fps, size)
    if not vw.isOpened():
        raise ValueError(f"cannot write {path}")
    try:
        for f in range(frames):
            frame = background.copy()
            for k, x0, x1, y, f0, f1 in walks:
                if not f0 <= f <= f1:
                    continue
                sprite = sprites[k]
                t = (f - f0) / max(f1 - f0, 1)
                cx, cy = (x0 + (x1 - x0) * t) * w, y * h
                sx, sy = int(round(cx - sprite.shape[1] / 2)), int(round(cy - sprite.shape[0] / 2))
                xa, ya, xb, yb = max(sx, 0), max(sy, 0), min(sx + sprite.shape[1], w), min(sy + sprite.shape[0], h)
                if xb > xa and yb > ya:
                    frame[ya:yb, xa:xb] = sprite[ya - sy : yb - sy, xa - sx : xb - sx]
            vw.write(frame)
    finally:
        vw.release()
    return frames
