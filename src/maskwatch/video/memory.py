"""Keep a long-running site's memory flat: glibc's allocator told how to treat many threads and
big frame buffers.

A site is many camera threads passing ~1 MB frames around. glibc gives each thread that contends
for the heap an arena of its own (up to 8 per core) and, after the first large frees, raises its
mmap threshold so that frame-sized blocks come from those arenas instead of fresh mappings: freed
frames then leave free pages the arenas keep. In 30-minute soaks of 12 cameras the site process
grew 18-22 %, 720 -> 945 MB (docs/reliability.md).

MASKWATCH_MALLOC picks what `maskwatch site` does at start (glibc only):
- unset: arenas capped at 2, and the free pages handed back every 10 s (`trimmer`, malloc_trim).
  10-minute soak: 512 -> 548 MB, frame rates within 4 % of glibc left alone.
- "mmap": arenas capped at 2 and the mmap threshold fixed at 256 kB, so every frame buffer is a
  mapping of its own: the least memory (229-307 MB, flat over 30 minutes) but a mapping per frame
  costs CPU (looping files analysed at 11 fps instead of 19; 20 live cameras 17 % slower).
- "arenas": the arena cap alone (614 -> 701 MB in 10 minutes: not enough on its own).
- "default": glibc left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import time

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024  # under a 320x240 BGR frame (230 kB): every frame buffer is mapped
TRIM_EVERY_S = 10.0
MODES = ("", "mmap", "arenas", "default")


def _mode() -> str:
    mode = os.environ.get("MASKWATCH_MALLOC", "")
    return mode if mode in MODES else ""


def _glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def tune_allocator() -> bool:
    """Set what MASKWATCH_MALLOC asks for (see above) in this process; whether anything was set."""
    mode, libc = _mode(), _glibc()
    if mode == "default" or libc is None:
        return False
    try:
        done = bool(libc.mallopt(M_ARENA_MAX, ARENAS))
        return done and (mode != "mmap" or bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)))
    except AttributeError:
        return False


def trimmer(every_s: float = TRIM_EVERY_S):
    """An on_tick for run_site that hands the heap's free pages back to the system every
    `every_s` seconds (the default mode); None in the other modes or without glibc."""
    libc = _glibc()
    if _mode() != "" or libc is None or not hasattr(libc, "malloc_trim"):
        return None
    last = [time.monotonic()]

    def tick(_summary=None) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            libc.malloc_trim(0)

    return tick
