"""Stamp synchronisation of RGB, depth and camera_info, newest first.

message_filters is not on PyPI, so this is the project's own small synchroniser. Unlike
message_filters' ApproximateTime, which emits every set it can form, a perception node
wants only the newest set: older frames are dropped and counted, never queued, so latency
stays flat when the input outruns processing. The first stream is the primary one (RGB):
every primary message ends up either in an emitted set or counted as unsynced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

POLICIES = ("approximate", "exact")


@dataclass
class SyncStats:
    """Counters for diagnostics; `received[primary] == synced + unsynced + pending`."""

    received: dict[str, int] = field(default_factory=dict)
    synced: int = 0
    unsynced: int = 0  # primary messages discarded without a partner within slop
    resets: int = 0  # stamps went backwards (bag loop, sim time reset)


@dataclass(frozen=True)
class SyncedSet:
    """One matched set: the primary stamp and each stream's item."""

    stamp_ns: int
    items: dict[str, Any]
    max_offset_ns: int  # largest |stamp - primary stamp| in the set


class NewestSynchronizer:
    """Pairs messages of several streams by header stamp and emits only the newest set."""

    def __init__(self, streams: Sequence[str], queue_size: int = 5, slop_s: float = 0.02,
                 policy: str = "approximate") -> None:
        if len(streams) < 2 or len(set(streams)) != len(streams):
            raise ValueError(f"need at least two distinct streams, got {list(streams)}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if slop_s < 0:
            raise ValueError(f"slop must be >= 0 s, got {slop_s}")
        self.streams = tuple(streams)
        self.primary = self.streams[0]
        self.slop_ns = 0 if policy == "exact" else int(round(slop_s * 1e9))
        self._queues: dict[str, deque[tuple[int, Any]]] = {
            name: deque(maxlen=queue_size) for name in self.streams}
        self._last_stamp: dict[str, int] = {}
        self.stats = SyncStats(received={name: 0 for name in self.streams})

    def reset(self) -> None:
        """Forget every queued message (pending primaries count as unsynced)."""
        self.stats.unsynced += len(self._queues[self.primary])
        for queue in self._queues.values():
            queue.clear()
        self._last_stamp.clear()

    def add(self, stream: str, stamp_ns: int, item: Any) -> SyncedSet | None:
        """Queue one message; returns the newest complete set it made possible, if any."""
        if stream not in self._queues:
            raise KeyError(f"unknown stream {stream!r}; streams are {self.streams}")
        self.stats.received[stream] += 1
        if stamp_ns < self._last_stamp.get(stream, stamp_ns):
            self.stats.resets += 1
            self.reset()
        self._last_stamp[stream] = stamp_ns
        queue = self._queues[stream]
        if stream == self.primary and len(queue) == queue.maxlen:
            self.stats.unsynced += 1  # the oldest primary falls out unmatched
        queue.append((stamp_ns, item))
        return self._emit_newest()

    @property
    def pending(self) -> int:
        """Primary messages still waiting for partners."""
        return len(self._queues[self.primary])

    def _emit_newest(self) -> SyncedSet | None:
        primaries = self._queues[self.primary]
        for index in range(len(primaries) - 1, -1, -1):
            stamp, item = primaries[index]
            partners = {name: self._closest(name, stamp) for name in self.streams[1:]}
            if any(match is None for match in partners.values()):
                continue
            items = {self.primary: item}
            offset = 0
            for name, (position, partner_stamp, partner) in partners.items():
                items[name] = partner
                offset = max(offset, abs(partner_stamp - stamp))
                for _ in range(position + 1):  # the partner and everything older
                    self._queues[name].popleft()
            self.stats.unsynced += index  # older primaries can no longer be the newest
            for _ in range(index + 1):
                primaries.popleft()
            self.stats.synced += 1
            return SyncedSet(stamp_ns=stamp, items=items, max_offset_ns=offset)
        return None

    def _closest(self, stream: str, stamp_ns: int) -> tuple[int, int, Any] | None:
        best = None
        for position, (candidate_stamp, candidate) in enumerate(self._queues[stream]):
            distance = abs(candidate_stamp - stamp_ns)
            if distance <= self.slop_ns and (best is None or distance < best[0]):
                best = (distance, position, candidate_stamp, candidate)
        return None if best is None else best[1:]
