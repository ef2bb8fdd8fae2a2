"""The staged worker under overload: every frame accounted for, latency flat, stages overlap.

Stages sleep (releasing the GIL like ONNX Runtime and torch kernels do), so the numbers
depend on the schedule, not on how loaded the machine is.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np

from sgnet_ros.pipeline.staged import StagedWorker

STAGE_S = 0.02


class Recorder:
    """Three sleeping stages; the last records each frame's submit->done latency."""

    def __init__(self) -> None:
        self.latency_ms: list[float] = []
        self.done: list[int] = []
        self.superseded: Counter[str] = Counter()
        self.dropped = 0
        self.lock = threading.Lock()

    def stage(self, item):
        time.sleep(STAGE_S)
        return item

    def rejecting(self, item):
        """Ends every 5th frame itself (as a bad frame is dropped with a reason)."""
        time.sleep(STAGE_S)
        if item[0] % 5 == 0:
            with self.lock:
                self.dropped += 1
            return None
        return item

    def last(self, item):
        time.sleep(STAGE_S)
        with self.lock:
            self.latency_ms.append((time.perf_counter() - item[1]) * 1000.0)
            self.done.append(item[0])

    def worker(self) -> StagedWorker:
        return StagedWorker([("decode", self.stage), ("inference", self.rejecting),
                             ("outputs", self.last)],
                            on_superseded=lambda stage: self.superseded.update([stage]))


def wait_idle(worker: StagedWorker, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while worker.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)


def test_twice_the_rate_balances_the_ledger_and_keeps_latency_flat():
    recorder = Recorder()
    worker = recorder.worker()
    try:
        for index in range(1, 5):  # one frame at a time: the unloaded latency
            worker.submit((index, time.perf_counter()))
            wait_idle(worker)
        unloaded = list(recorder.latency_ms)
        recorder.latency_ms.clear()
        submitted = 0
        for index in range(100, 250):  # twice what the slowest stage can take
            worker.submit((index, time.perf_counter()))
            submitted += 1
            in_flight = worker.in_flight
            processed = len(recorder.latency_ms)
            superseded = sum(recorder.superseded.values())
            # The ledger balances at every moment, not only at the end (in flight <= 3 + 3).
            assert processed + recorder.dropped + superseded + in_flight >= submitted - 1
            assert in_flight <= 6
            time.sleep(STAGE_S / 2)
        wait_idle(worker)
        processed = len(recorder.latency_ms)
        superseded = sum(recorder.superseded.values())
        assert worker.in_flight == 0
        assert processed + recorder.dropped + superseded == submitted
        assert recorder.superseded["decode"] > 0, "the overload never replaced a waiting frame"
        assert recorder.done[-1] == 249, "the newest frame must be the one that goes through"
        assert processed > 0.35 * submitted, "stages that overlap pass about half of 2x input"
        loaded_p95 = float(np.percentile(recorder.latency_ms, 95))
        unloaded_p95 = float(np.percentile(unloaded, 95))
        assert loaded_p95 < 2.0 * unloaded_p95, (loaded_p95, unloaded_p95)
        waits = worker.queue_waits()
        assert set(waits) == {"decode", "inference", "outputs"}
        assert all(waits[stage] for stage in waits)
    finally:
        worker.stop()


def test_one_stage_runs_frames_in_turn_and_drops_the_rest_as_superseded():
    recorder = Recorder()

    def serial(item):
        for stage in (recorder.stage, recorder.rejecting):
            item = stage(item)
            if item is None:
                return None
        recorder.last(item)
        return None

    worker = StagedWorker([("serial", serial)],
                          on_superseded=lambda stage: recorder.superseded.update([stage]))
    try:
        for index in range(1, 61):
            worker.submit((index, time.perf_counter()))
            time.sleep(STAGE_S / 2)
        wait_idle(worker)
        processed = len(recorder.latency_ms)
        assert processed + recorder.dropped + recorder.superseded["serial"] == 60
        assert processed < 0.25 * 60, "one worker passes about a sixth of this input"
    finally:
        worker.stop()


def test_frames_still_waiting_at_stop_are_handed_back_for_the_ledger():
    recorder = Recorder()
    worker = recorder.worker()
    for index in range(1, 4):
        worker.submit((index, time.perf_counter()))
        time.sleep(STAGE_S / 4)
    assert not worker.stop(timeout_s=0.0), "a stage was still working on a frame"
    waiting = worker.abandon_waiting()
    assert waiting >= 1 and worker.in_flight == 1  # the one inside a stage
    time.sleep(2 * STAGE_S)  # that stage finishes its frame after the stop
    assert worker.in_flight == 0 and worker.abandon_waiting() == 1


def test_stage_cpu_counts_each_stage_thread_s_own_cpu_time_not_its_waits():
    """What bounds the rate on few cores is CPU per stage, which a sleeping (GIL-releasing)
    stage does not spend: the per-stage figures must tell the two apart."""
    spin_cpu_s = 0.03

    def spinning(item):
        started = time.thread_time()
        while time.thread_time() - started < spin_cpu_s:
            pass
        return item

    def sleeping(item):
        time.sleep(spin_cpu_s)

    worker = StagedWorker([("compute", spinning), ("wait", sleeping)],
                          on_superseded=lambda stage: None)
    try:
        for index in range(3):
            worker.submit(index, wait=True)
        worker.wait_idle()
        cpu = worker.stage_cpu()
    finally:
        worker.stop()
    assert len(cpu["compute"]) == len(cpu["wait"]) == 3, cpu
    assert min(cpu["compute"]) >= spin_cpu_s * 1000.0, cpu
    assert max(cpu["wait"]) < spin_cpu_s * 1000.0 / 3, cpu
