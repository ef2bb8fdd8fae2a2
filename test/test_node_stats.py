"""Frame ledger and latency windows of the node, without ROS."""

import threading

import numpy as np

from sgnet_ros.ros.stats import NodeStats


def test_summary_accounts_for_frames_and_flags_foreign_clock_stamps():
    stats = NodeStats()
    for _ in range(5):
        stats.count_received("rgb")
    stats.count_drop("superseded", 2)
    stats.count_drop("unsynced", 0)  # zero drops leave no entry
    for latency in (10.0, 20.0, 30.0):
        stats.count_processed(latency, latency / 2, {"inference": 4.0})
    line = stats.summary("rgb")
    assert line.startswith("5 frames in, 3 processed, 2 dropped (superseded 2)")
    assert "stamp->publish p50 20.0 ms" in line and "receipt->publish p50 10.0 ms" in line
    for _ in range(4):  # a replayed bag: stamps years old
        stats.count_processed(9e9, 5.0, {})
    assert "stamps are from another clock" in stats.summary("rgb")


def test_percentiles_are_safe_while_the_worker_appends():
    stats = NodeStats(window=50)
    stop = threading.Event()

    def worker():
        value = 0.0
        while not stop.is_set():
            value += 1.0
            stats.count_processed(value, value, {"spatial": value})

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        for _ in range(300):
            windows = stats.latency_percentiles()
            assert set(windows) == {"latency stamp->publish", "latency receipt->publish",
                                    "latency stamp->receipt", "stage spatial"} \
                or not stats.processed
    finally:
        stop.set()
        thread.join()
    p50, p95 = stats.latency_percentiles()["stage spatial"]
    assert np.isfinite(p50) and p95 >= p50
