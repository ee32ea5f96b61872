"""Process-wide allocator tuning, applied once by the ``sepmon`` command at start-up.

The separation core's numpy temporaries are a few MB per evaluation, allocated and
freed many times a second. With glibc's defaults (trim above 128 KiB, a dynamic mmap
threshold) freed memory goes back to the kernel after each evaluation and comes back
as fresh zeroed pages on the next one: thousands of page faults per update, about a
third of an evaluation's time (docs/performance.md). Keeping up to
:data:`KEEP_BYTES` for reuse removes them; RSS then stays at its working-set peak
instead of dipping between evaluations.

Written with ctypes because no maintained library exposes ``mallopt``; the
environment variables ``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_`` would do
the same but only if set before the interpreter starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

KEEP_BYTES = 64 << 20
"""Freed memory kept by the allocator and the size from which blocks get their own mmap."""

# glibc <malloc.h> parameter numbers.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_applied: bool | None = None


def tune_allocator(keep_bytes: int = KEEP_BYTES) -> bool:
    """Ask glibc to keep ``keep_bytes`` of freed memory; True when it took the setting.

    A no-op returning False where there is no glibc ``mallopt`` (macOS, musl accepts the
    call but ignores it and says so). Safe to call more than once.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _applied = mallopt(_M_TRIM_THRESHOLD, keep_bytes) == 1 and mallopt(_M_MMAP_THRESHOLD, keep_bytes) == 1
    return _applied
