"""Frames through a chain of stages, one thread each, newest frame wins at every hand-over.

On 2 cores one thread doing decode, encoding, inference and outputs in turn left each core
idle half the time; three stages that overlap across frames (decode+encode | inference |
outputs+publish) keep both busy. Every hand-over is a single slot, and a stage takes a
frame only when the slot after it is empty: so the input slot is where a frame arriving
while the previous one still waits replaces it (reported as superseded), no stage works on
a frame that would be replaced further on, latency stays flat under overload and the
newest frame goes through. A stage returns the
item for the next stage, or None when it ended the frame itself (dropped, counted by it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

Stage = tuple[str, Callable[[Any], Any]]


class _Slot:
    """One waiting item and when it was put there."""

    def __init__(self) -> None:
        self.item: Any = None
        self.since = 0.0
        self.full = False


class StagedWorker:
    """Runs `stages` on threads of their own; `submit` feeds the first one.

    on_superseded(stage): a waiting frame in front of `stage` was replaced by a newer one.
    thread_setup(stage): called once on each stage's thread before its first frame.
    """

    def __init__(self, stages: Sequence[Stage], on_superseded: Callable[[str], None],
                 thread_setup: Callable[[str], None] | None = None, window: int = 300) -> None:
        if not stages:
            raise ValueError("a staged worker needs at least one stage")
        self.stage_names = tuple(name for name, _ in stages)
        self._stages = list(stages)
        self._on_superseded = on_superseded
        self._thread_setup = thread_setup
        self._condition = threading.Condition()
        self._slots = [_Slot() for _ in stages]
        self._busy = [False] * len(stages)
        self._running = True
        self._abandoned = 0  # frames a stage finished after stop
        self.queue_wait_ms: dict[str, deque[float]] = {
            name: deque(maxlen=window) for name in self.stage_names}
        # CPU time of each stage's own thread per frame: what bounds the rate on few cores.
        self.stage_cpu_ms: dict[str, deque[float]] = {
            name: deque(maxlen=window) for name in self.stage_names}
        self._threads = [threading.Thread(target=self._run, args=(index,), daemon=True,
                                          name=f"sgnet_stage_{name}")
                         for index, name in enumerate(self.stage_names)]
        for thread in self._threads:
            thread.start()

    def submit(self, item: Any, wait: bool = False) -> None:
        """Hand a frame to the first stage, replacing one that still waits there; `wait`
        first waits for that slot to empty (offline throughput runs that drop nothing)."""
        if wait:
            with self._condition:
                while self._slots[0].full and self._running:
                    self._condition.wait()
        self._put(0, item)

    def wait_idle(self) -> None:
        """Block until no frame is waiting or in a stage."""
        with self._condition:
            while self._running and (any(slot.full for slot in self._slots)
                                     or any(self._busy)):
                self._condition.wait()

    @property
    def in_flight(self) -> int:
        """Frames waiting in a slot or inside a stage: neither processed nor dropped yet."""
        with self._condition:
            return sum(slot.full for slot in self._slots) + sum(self._busy)

    def queue_waits(self) -> dict[str, list[float]]:
        """Recent waits (ms) of frames in front of each stage, copied under the lock."""
        with self._condition:
            return {name: list(waits) for name, waits in self.queue_wait_ms.items()}

    def stage_cpu(self) -> dict[str, list[float]]:
        """Recent CPU times (ms) of each stage's thread per frame (threads a library starts
        for itself, e.g. torch's or ONNX Runtime's pool above 1 thread, are not in them)."""
        with self._condition:
            return {name: list(times) for name, times in self.stage_cpu_ms.items()}

    def _put(self, index: int, item: Any, done_stage: int | None = None) -> None:
        """Fill slot `index`; `done_stage` leaves its stage in the same step, so a frame is
        never counted twice (or not at all) by `in_flight`."""
        with self._condition:
            replaced = False
            if item is not None and index < len(self._slots) and not self._running:
                self._abandoned += 1  # finished after stop: no stage will take it any more
            elif item is not None and index < len(self._slots):
                slot = self._slots[index]
                replaced = slot.full
                slot.item, slot.since, slot.full = item, time.perf_counter(), True
            if done_stage is not None:
                self._busy[done_stage] = False
            self._condition.notify_all()
        if replaced:
            self._on_superseded(self.stage_names[index])

    def _run(self, index: int) -> None:
        name, work = self._stages[index]
        if self._thread_setup is not None:
            self._thread_setup(name)
        slot = self._slots[index]
        # A stage starts a frame only once the next stage's slot is empty: work that would
        # only be superseded there steals the cores the slowest stage needs.
        ahead = self._slots[index + 1] if index + 1 < len(self._slots) else None
        while True:
            with self._condition:
                while self._running and (not slot.full or (ahead is not None and ahead.full)):
                    self._condition.wait()
                if not self._running:
                    return
                item, since = slot.item, slot.since
                slot.item, slot.full = None, False
                self._busy[index] = True
                self._condition.notify_all()  # a waiting submit may fill the slot again
                self.queue_wait_ms[name].append((time.perf_counter() - since) * 1000.0)
            result = None
            cpu_start = time.thread_time()
            try:
                result = work(item)
            finally:
                with self._condition:
                    self.stage_cpu_ms[name].append((time.thread_time() - cpu_start) * 1000.0)
                self._put(index + 1, result, done_stage=index)

    @property
    def running(self) -> bool:
        """False once `stop` was called: a stage should not publish what it finishes then."""
        return self._running

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop every stage after the frame it is working on, waiting at most `timeout_s` in
        all; True when every stage thread has ended."""
        with self._condition:
            self._running = False
            self._condition.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def abandon_waiting(self) -> int:
        """After `stop`: empty the slots and return how many frames were still waiting in them
        or were finished by a stage since (the caller counts them as dropped)."""
        with self._condition:
            waiting = sum(slot.full for slot in self._slots) + self._abandoned
            for slot in self._slots:
                slot.item, slot.full = None, False
            self._abandoned = 0
            return waiting
