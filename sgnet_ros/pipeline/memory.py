"""Give the memory of a large frame back to the system once frames are small again.

The per-frame buffers themselves follow the frame size (BufferPool and the ray cache
replace theirs, the network runs at its fixed input size), but glibc keeps freed heap
pages in its arenas, one per thread: after one 3840x2160 frame a node stayed about
200 MiB above its 640x480 level for good. malloc_trim(0) returns the free pages of every
arena; it is called only in the frames after the frame size drops, so steady streams
never pay for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

SHRINK_FACTOR = 2  # a frame this many times smaller than the largest seen starts trims
# Trims continue for this many frames: the large input messages leave the synchroniser's
# queues (sync.queue_size) and the middleware only a few frames after the size drops.
SETTLE_FRAMES = 12


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


class MemoryReleaser:
    """Trims after each of the SETTLE_FRAMES frames that follow a drop in frame size."""

    def __init__(self) -> None:
        self._largest = 0
        self._frames_to_trim = 0
        self._trim = _malloc_trim()
        self.trims = 0

    def after_frame(self, pixels: int) -> bool:
        """Call once a frame of `pixels` is done; True when memory was handed back."""
        if pixels * SHRINK_FACTOR <= self._largest:
            self._frames_to_trim = SETTLE_FRAMES
            self._largest = pixels
        self._largest = max(self._largest, pixels)
        if not self._frames_to_trim or self._trim is None:
            return False
        self._frames_to_trim -= 1
        self._trim(0)
        self.trims += 1
        return True
