"""Start-up feedback: a long step (a TensorRT engine build) logs that it is still running."""

import time

from sgnet_ros.ros.node import heartbeat


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


def test_heartbeat_logs_while_a_step_runs_and_stops_after_it():
    logger = Lines()
    with heartbeat(logger, "warm-up on TensorrtExecutionProvider", period_s=0.05):
        time.sleep(0.32)
    during = len(logger.lines)
    assert during >= 3
    assert all(line.startswith("warm-up on TensorrtExecutionProvider: still running after ")
               for line in logger.lines)
    time.sleep(0.2)
    assert len(logger.lines) == during


def test_a_quick_step_logs_nothing():
    logger = Lines()
    with heartbeat(logger, "loading the model", period_s=10.0):
        pass
    assert logger.lines == []
