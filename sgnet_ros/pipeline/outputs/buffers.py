"""Reuse of large per-frame arrays across frames."""

from __future__ import annotations

import sys

import numpy as np


class BufferPool:
    """Large per-frame arrays, recycled once nothing outside the pool refers to them.

    At 640x480 the two clouds take about 10 MB a frame. Fresh memory is page-faulted in
    on every build (measured at several milliseconds); a recycled array is not. An array
    that the caller still holds, directly or through any view (a kept CloudBuffer, say),
    is never recycled: a new one is made and the old one stays the caller's.
    """

    _PROBE = "unshared probe"

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {self._PROBE: np.empty(0)}
        # Measured rather than assumed: interpreters count temporary references differently.
        self._unshared = self._references(self._PROBE)

    def _references(self, name: str) -> int:
        return sys.getrefcount(self._arrays[name])

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised C-contiguous array nobody else refers to."""
        reusable = (
            name in self._arrays
            and self._references(name) == self._unshared
            and self._arrays[name].shape == shape
            and self._arrays[name].dtype == dtype
        )
        if not reusable:
            self._arrays[name] = np.empty(shape, dtype)
        return self._arrays[name]

