"""Keep a long-running site's memory flat: glibc's allocator told how to treat many threads and
big frame buffers.

A site is many camera threads passing ~1 MB frames around. glibc gives each thread that contends
for the heap an arena of its own (up to 8 per core) and, after the first large frees, raises its
mmap threshold so that frame-sized blocks come from those arenas instead of fresh mappings: freed
frames then leave holes the arenas keep. In a 30-minute soak of 12 cameras the site process grew
18-22 % with swings of 60-140 MB minute to minute (docs/reliability.md). Two arenas and a fixed
threshold under a frame's size send every frame to its own mapping, returned to the system when
freed. Only where the C library is glibc; MASKWATCH_MALLOC=default leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024  # under a 320x240 BGR frame (230 kB): every frame buffer is mapped


def tune_allocator() -> bool:
    """Set the arena cap and the mmap threshold for this process; whether it was done.
    MASKWATCH_MALLOC=arenas sets the arena cap only; =trim the arena cap, and `trimmer` trims."""
    mode = os.environ.get("MASKWATCH_MALLOC", "")
    if mode == "default" or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        done = bool(libc.mallopt(M_ARENA_MAX, ARENAS))
        return done and (mode in ("arenas", "trim") or bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)))
    except (OSError, AttributeError):
        return False


TRIM_EVERY_S = 10.0


def trimmer(every_s: float = TRIM_EVERY_S):
    """An on_tick for run_site that hands the heap's free pages back to the system
    (malloc_trim) every `every_s` seconds, for MASKWATCH_MALLOC=trim (arena cap and trims, the
    mmap threshold left to glibc); None otherwise."""
    import time

    if os.environ.get("MASKWATCH_MALLOC") != "trim" or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    last = [time.monotonic()]

    def tick(_summary=None) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            libc.malloc_trim(0)

    return tick
