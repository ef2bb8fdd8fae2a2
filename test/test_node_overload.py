"""The pipelined node over rclpy fed at twice its throughput (issue #19): every frame ends
processed or superseded, and latency stays flat.

Frames must reach the node for its ledger to be about the node: the test's publishers keep
100 frames until acknowledged and the node's inputs 10 (`input_depth`), so a process paused
by a loaded machine delays frames instead of losing them in DDS (a 10-deep publisher at
60 Hz loses what a reader has not acknowledged within 170 ms; the node then counts the
loss and the frames its partner streams can no longer pair, not superseded frames).
"""

import time

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_harness import running_node, synthetic_frame
from sensor_msgs.msg import Image

pytestmark = pytest.mark.ros
SECOND = 1_000_000_000
DEEP_RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope="module")
def harness():
    with running_node("-p", "pipelined:=true", "-p", "input_depth:=10",
                      "-p", "warmup_size:=[160, 120]", publisher_qos=DEEP_RELIABLE,
                      outputs=[("segmentation/image", Image, DEEP_RELIABLE)]) as harness:
        yield harness


class Stamps:
    """Unique, increasing stamps (the synchroniser resets otherwise)."""

    next = 1_750_000_000 * SECOND

    @classmethod
    def take(cls) -> int:
        cls.next += SECOND // 10
        return cls.next


def frame_ledger(harness) -> dict[str, int]:
    """The node's frame counters from one diagnostics message."""
    values = dict(harness.diagnostics)
    dropped = {k.removeprefix("dropped "): int(v) for k, v in values.items()
               if k.startswith("dropped ")}
    return {"received": int(values.get("frames received", -1)),
            "processed": int(values.get("frames processed", 0)),
            "pending": int(values.get("frames pending sync", 0))
            + int(values.get("frames in pipeline", 0)),
            "dropped": sum(dropped.values()), **{f"dropped {k}": n for k, n in dropped.items()}}


def idle_ledger(harness, received: int, timeout: float = 60.0) -> dict[str, int]:
    """The ledger once the node counts `received` frames and none is left in its pipeline."""
    def done() -> bool:
        ledger = frame_ledger(harness)
        return ledger["received"] >= received and ledger["pending"] == 0
    assert harness.wait_for(done, timeout), (received, frame_ledger(harness))
    return frame_ledger(harness)


def send_at(harness, rate_hz: float, seconds: float, rgb, depth, K) -> dict[int, float]:
    """Frames at `rate_hz` for `seconds`; {stamp: monotonic send time}."""
    sent = {}
    start = time.monotonic()
    for index in range(int(rate_hz * seconds)):
        delay = start + index / rate_hz - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        stamp = Stamps.take()
        sent[stamp] = time.monotonic()
        harness.publish_frame(stamp, rgb, depth, K)
    return sent


def test_overload_drops_superseded_frames_keeps_latency_flat_and_accounts_for_every_frame(
        harness):
    rgb, depth, K = synthetic_frame(120, 160)
    for _ in range(3):  # one frame at a time
        stamp = Stamps.take()
        harness.publish_frame(stamp, rgb, depth, K)
        assert harness.wait_for(lambda stamp=stamp: stamp in harness.stamps(
            "segmentation/image"))
    start = idle_ledger(harness, 3)
    # The node's throughput: label images out while it is fed far faster than it can go.
    burst = send_at(harness, 60, 3.0, rgb, depth, K)
    burst_start, burst_end = min(burst.values()), max(burst.values())
    saturated = idle_ledger(harness, start["received"] + len(burst))
    assert saturated["received"] == start["received"] + len(burst), saturated
    arrived = harness.arrival_times("segmentation/image")
    throughput_hz = sum(burst_start <= arrived.get(stamp, -1) <= burst_end
                        for stamp in burst) / (burst_end - burst_start)
    assert throughput_hz > 0, saturated
    # Twice that throughput for long enough that a queue would show. The lead-in is not
    # measured: it starts with the stages empty, and a frame that finds every stage idle
    # goes through in about half the time of one behind a frame in progress, so with it
    # the first third measured the empty pipeline, not overload (the earlier version of
    # this test compared such windows and failed 1 run in 4 on a loaded machine).
    lead_in = send_at(harness, 2 * throughput_hz, 2.0, rgb, depth, K)
    sent = send_at(harness, 2 * throughput_hz, 9.0, rgb, depth, K)
    end = idle_ledger(harness, saturated["received"] + len(lead_in) + len(sent))
    assert end["received"] == saturated["received"] + len(lead_in) + len(sent), end
    assert end["processed"] + end["dropped"] + end["pending"] == end["received"], end
    new_drops = {k: v - saturated.get(k, 0) for k, v in end.items()
                 if k.startswith("dropped ") and v != saturated.get(k, 0)}
    assert set(new_drops) == {"dropped superseded"}, new_drops
    arrived = harness.arrival_times("segmentation/image")
    round_trips = [(arrived[stamp] - at) * 1000 for stamp, at in sorted(
        sent.items(), key=lambda item: item[1]) if stamp in arrived]
    third = len(round_trips) // 3
    assert third >= 5, (round_trips, throughput_hz)
    first, last = np.median(round_trips[:third]), np.median(round_trips[-third:])
    # A queue at 2x grows by one frame per processed frame: the last third would wait
    # seconds longer than the first. Newest-wins keeps both at a few stage times.
    assert last < 2.0 * first, (first, last, throughput_hz, [round(r) for r in round_trips])
