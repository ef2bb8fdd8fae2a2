"""Which input keeps the synchroniser from pairing, in words a user can act on.

"No synced set" alone leaves the user guessing between a missing camera_info, a depth
stream on another clock and two cameras; the arrival times and last stamps per stream
tell them apart. Kept apart from rclpy so the reasoning is plain arithmetic.
"""

from __future__ import annotations

import threading
import time


class InputWatch:
    """Last arrival (monotonic) and last header stamp per input stream."""

    def __init__(self, streams: dict[str, str], primary: str, slop_s: float,
                 stale_s: float) -> None:
        """streams: key -> name shown to the user (the resolved topic); primary: the colour key."""
        self.streams, self.primary = streams, primary
        self.slop_s, self.stale_s = slop_s, stale_s
        self._started = time.monotonic()
        self._arrival: dict[str, float] = {}
        self._stamp_ns: dict[str, int] = {}
        self._lock = threading.Lock()

    def arrived(self, stream: str, stamp_ns: int) -> None:
        with self._lock:
            self._arrival[stream] = time.monotonic()
            self._stamp_ns[stream] = stamp_ns

    def problems(self, last_synced: float, now: float | None = None) -> list[str]:
        """What is missing or late, once inputs arrive but nothing synced for stale_s.

        Empty while sets sync, and while no input arrives at all (that is "waiting for
        input", not a pairing problem).
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            arrival, stamps = dict(self._arrival), dict(self._stamp_ns)
        fresh = {s for s, at in arrival.items() if now - at < self.stale_s}
        if now - last_synced < self.stale_s or not fresh:
            return []
        found = []
        for stream, name in self.streams.items():
            if stream not in fresh:
                silent = now - arrival.get(stream, self._started)
                found.append(f"{name}: nothing received in {silent:.1f} s")
        if self.primary in fresh:
            for stream in sorted(fresh - {self.primary}):
                offset_s = (stamps[self.primary] - stamps[stream]) / 1e9
                if abs(offset_s) > self.slop_s:
                    side = "behind" if offset_s > 0 else "ahead of"
                    found.append(f"{self.streams[stream]} stamps {abs(offset_s):.3g} s {side} "
                                 f"colour, sync.slop {self.slop_s:g}")
        return found
