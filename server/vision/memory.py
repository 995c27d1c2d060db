"""Giving freed memory back to the system after a big allocation was released (glibc ``malloc_trim``).

Why: glibc keeps freed heap memory in its arenas for reuse, and after the first
large free it raises its mmap threshold (up to 32 MB), so the 16 MB blocks of a
big decoded photo or the buffers of a closed live stream's MediaPipe graphs are
then carved from the heap and stay in the process's RSS after they are freed
(issue 25: RSS stayed at 2.3-2.5 GB after batches of big PNGs; 50 closed live
streams gave back 0.2 of 2.7 GB). ``malloc_trim(0)`` returns every arena's free
pages at once; it takes a few milliseconds, so it is called after a free of tens
of megabytes, never per frame. Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def give_back_freed_memory() -> bool:
    """Return the C heap's free pages to the system; True when that was done (glibc)."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
