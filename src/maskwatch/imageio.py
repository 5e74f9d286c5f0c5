"""Reading images robustly: any failure becomes a one-line ValueError, never a crash."""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pbm", ".gif"}
# Decompression bombs: refuse images whose header claims more pixels than this.
MAX_PIXELS = 100_000_000
# Photos given as http(s) URLs: a download larger than this, or slower than the timeout, is refused.
MAX_URL_BYTES = 100 * 1024 * 1024
MAX_FILE_BYTES = MAX_URL_BYTES  # a local photo: the same cap, checked before it is read
URL_TIMEOUT_S = 30.0


def is_url(item: str) -> bool:
    return isinstance(item, str) and item.lower().startswith(("http://", "https://"))


def fetch_url(url: str, timeout: float = URL_TIMEOUT_S, max_bytes: int = MAX_URL_BYTES) -> bytes:
    """The body of an http(s) URL, or a one-line ValueError (network, status, size, time)."""
    import time

    import httpx

    from ._version import __version__

    # httpx's timeout bounds each connect and read; the deadline bounds the whole download, so
    # a server that trickles a byte at a time cannot hold the run.
    deadline = time.monotonic() + timeout
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True, headers={"User-Agent": f"maskwatch/{__version__}"}) as resp:
            if resp.status_code >= 400:
                raise ValueError(f"HTTP {resp.status_code} {resp.reason_phrase}")
            chunks, size = [], 0
            for chunk in resp.iter_raw():  # as the bytes arrive (a chunk size would wait to fill it)
                if time.monotonic() > deadline:
                    raise ValueError(f"not complete after {timeout:g} s")
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"larger than {max_bytes // (1024 * 1024)} MB")
            return b"".join(chunks)
    except ValueError as exc:
        raise ValueError(f"cannot fetch {url}: {exc}") from None
    except httpx.TimeoutException:
        raise ValueError(f"cannot fetch {url}: no answer within {timeout:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:  # refused, reset, not HTTP, bad URL
        raise ValueError(f"cannot fetch {url}: {exc or type(exc).__name__}") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode a file (or an http(s) URL) into a 3-channel uint8 BGR image (EXIF rotation applied),
    or raise ValueError."""
    if is_url(path):
        return decode_image(fetch_url(path), name=path)
    path = Path(path)
    try:
        # Checked on the open file, before a byte is read: /dev/zero, a FIFO or a 3 GB file was
        # read whole first (17 GB of memory in 60 s for /dev/zero).
        # O_NONBLOCK: opening a FIFO for reading would wait for a writer (regular files ignore it).
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb", buffering=0) as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise ValueError(f"{path} is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise ValueError(f"{path} is not a regular file (a device, FIFO or socket): refused")
            if st.st_size > MAX_FILE_BYTES:
                raise ValueError(f"{path} is too large ({st.st_size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB)")
            data = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise ValueError(f"{path} is too large (over {MAX_FILE_BYTES // 2**20} MB)")
    return decode_image(data, name=str(path))


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    if not data:
        raise ValueError(f"{name} is empty (0 bytes)")
    _check_size(data, name, max_pixels)
    buf = np.frombuffer(data, np.uint8)
    try:
        # IMREAD_COLOR applies EXIF orientation and converts grey/CMYK/16-bit to 8-bit BGR.
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ValueError(f"{name} is not a readable image ({str(exc).strip().splitlines()[-1][:120]})") from None
    if image is None or image.size == 0:
        raise ValueError(f"{name} is not a readable image (corrupt or unsupported format)")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise ValueError(f"{name} is too large ({image.shape[1]}x{image.shape[0]} pixels)")
    return image


def _check_size(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse decompression bombs from the header alone, before any pixel is decoded."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            w, h = im.size
    except Image.DecompressionBombError:
        raise ValueError(f"{name} is too large (decompression bomb)") from None
    except Exception:  # not a format Pillow knows: measured here, or refused before decoding
        size = _opencv_only_size(data)
        if size is None:
            raise ValueError(f"{name} is not a readable image (unknown or unsupported format)") from None
        w, h = size
    if w * h > max_pixels:
        raise ValueError(f"{name} is too large ({w}x{h} pixels, limit {max_pixels:,})")


def _opencv_only_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of the formats OpenCV reads and Pillow does not (Radiance
    HDR, PFM), or None: a size that cannot be known before decoding is not decoded at all."""
    import re

    head = data[:4096]
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        # Header lines, a blank line, then the resolution line, e.g. "-Y 480 +X 640".
        m = re.search(rb"\n\n([-+][YX]) (\d+) ([-+][YX]) (\d+)\n", head)
        if m:
            a, b = int(m.group(2)), int(m.group(4))
            return (b, a) if m.group(1).endswith(b"Y") else (a, b)
        return None
    if head[:2] in (b"PF", b"Pf"):
        m = re.match(rb"P[Ff]\s+(\d+)\s+(\d+)\s", head)
        return (int(m.group(1)), int(m.group(2))) if m else None
    return None


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files, folders (their images, sorted, recursively), glob patterns and http(s) URLs, in the
    order given.

    Paths that exist nowhere are kept, so the caller reports them as errors.
    """
    out: list[str] = []
    for item in inputs:
        if is_url(item):
            out.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
        elif p.exists():
            out.append(item)
        elif any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            out += matches if matches else [item]
        else:
            out.append(item)
    return out
