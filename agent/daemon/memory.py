"""Memory of a long-running daemon on a small till: fewer malloc arenas, start-up freed."""

from __future__ import annotations

import ctypes
import gc


def limit_malloc_arenas() -> None:
    """glibc gives each thread its own malloc arena (taps, scanners, sync workers): two are
    plenty for this load and keep freed memory from being spread thin. A no-op elsewhere."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-8, 2)  # M_ARENA_MAX


def release_memory() -> None:
    """Start-up (imports, config, templates) frees a lot; hand it back to the OS."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - musl and others lack it
        return libc
    except (OSError, AttributeError):
        return None
