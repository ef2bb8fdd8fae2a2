"""Frame accounting and latency statistics for the node's diagnostics and final summary.

Kept apart from the rclpy node so the arithmetic (rates, percentiles, the drop ledger) is
tested without ROS, and so the summary line and /diagnostics can never disagree.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

import numpy as np

STALE_STAMP_MS = 60_000.0  # stamp->publish beyond this means the stamps use another clock


def percentiles(samples, quantiles=(50, 95)) -> list[float]:
    """Percentiles of a sample window; NaN when empty."""
    if not samples:
        return [float("nan")] * len(quantiles)
    return [float(v) for v in np.percentile(np.fromiter(samples, float), quantiles)]


class NodeStats:
    """Thread-safe counters: every primary (RGB) frame is processed or dropped for a reason."""

    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self.received: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.processed = 0
        self.zero_stamps = 0
        self.foreign_clock_stamps = 0  # frames whose stamp->publish latency is meaningless
        self.latency_ms: deque[float] = deque(maxlen=window)  # header stamp -> publish
        self.pipeline_ms: deque[float] = deque(maxlen=window)  # receipt -> publish
        self.transport_in_ms: deque[float] = deque(maxlen=window)  # header stamp -> receipt
        self.stage_ms: dict[str, deque[float]] = {}
        self.last_received: dict[str, float] = {}
        self.last_synced = time.monotonic()
        self._rate_marks: dict[str, tuple[float, int]] = {}

    def count_received(self, stream: str, transport_ms: float | None = None) -> None:
        """A message arrived; transport_ms: its header stamp -> this callback (colour only)."""
        with self._lock:
            self.received[stream] += 1
            self.last_received[stream] = time.monotonic()
            if transport_ms is not None:
                self.transport_in_ms.append(transport_ms)

    def count_lost(self, stream: str, messages: int) -> None:
        """Messages the middleware lost before the node saw them (they were never received)."""
        with self._lock:
            self.received[stream] += messages
            self.lost[stream] += messages

    def count_drop(self, reason: str, frames: int = 1) -> None:
        if frames > 0:
            with self._lock:
                self.dropped[reason] += frames

    def count_processed(self, latency_ms: float, pipeline_ms: float,
                        stages_ms: dict[str, float]) -> None:
        with self._lock:
            self.processed += 1
            # A stamp on another clock (a bag replayed without use_sim_time, sim time
            # without /clock) would poison every percentile of the window, not only p50.
            if abs(latency_ms) < STALE_STAMP_MS:
                self.latency_ms.append(latency_ms)
            else:
                self.foreign_clock_stamps += 1
            self.pipeline_ms.append(pipeline_ms)
            for stage, value in stages_ms.items():
                self.stage_ms.setdefault(stage, deque(maxlen=self.latency_ms.maxlen)).append(value)

    def latency_percentiles(self) -> dict[str, tuple[float, float]]:
        """(p50, p95) of every timing window, copied under the lock (the worker appends)."""
        with self._lock:
            windows = {"latency stamp->publish": list(self.latency_ms),
                       "latency receipt->publish": list(self.pipeline_ms),
                       "latency stamp->receipt": list(self.transport_in_ms),
                       **{f"stage {stage}": list(w) for stage, w in self.stage_ms.items()}}
        return {name: tuple(percentiles(window)) for name, window in windows.items()}

    def rate(self, name: str, count: int) -> float:
        """Events per second of a monotonically growing counter since the last call."""
        now = time.monotonic()
        with self._lock:
            last_time, last_count = self._rate_marks.get(name, (now, count))
            self._rate_marks[name] = (now, count)
        elapsed = now - last_time
        return (count - last_count) / elapsed if elapsed > 0 else 0.0

    def summary(self, primary: str) -> str:
        """The one-line account printed at shutdown."""
        latency = self.latency_percentiles()
        p50, p95 = latency["latency stamp->publish"]
        receipt_p50, receipt_p95 = latency["latency receipt->publish"]
        with self._lock:
            foreign = self.foreign_clock_stamps
        stamp_latency = "n/a" if not self.latency_ms else f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        if foreign:
            stamp_latency += (f" ({foreign} frame(s) left out: their stamps are from another "
                              "clock, a replayed bag without use_sim_time?)")
        with self._lock:
            drops = ", ".join(f"{reason} {n}" for reason, n in sorted(self.dropped.items()))
            return (f"{self.received[primary]} frames in, {self.processed} processed, "
                    f"{sum(self.dropped.values())} dropped ({drops or 'none'}); latency "
                    f"receipt->publish p50 {receipt_p50:.1f} ms, p95 {receipt_p95:.1f} ms; "
                    f"stamp->publish {stamp_latency}")
