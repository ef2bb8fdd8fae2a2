"""Stopping a child ROS process so that Fast DDS releases its shared memory.

A participant that is SIGKILLed leaves its shared-memory segment in /dev/shm (67 MB with
config/fastdds_loopback.xml) until reboot; one that gets SIGINT or SIGTERM shuts its rclpy
context down and Fast DDS removes the segment. So a child is asked to stop first and killed
only when it does not, and sgnet_ros.ros.shm_cleanup removes what such a kill left.
"""

from __future__ import annotations

import signal
import subprocess

# A busy 2-core machine needs a few seconds to stop a node (torch, ONNX Runtime, rclpy).
INTERRUPT_TIMEOUT_S = 10.0
TERMINATE_TIMEOUT_S = 5.0


def stop_child(process: subprocess.Popen, interrupt_s: float = INTERRUPT_TIMEOUT_S,
               terminate_s: float = TERMINATE_TIMEOUT_S) -> int:
    """SIGINT, then SIGTERM after `interrupt_s`, then SIGKILL after `terminate_s`; the exit
    code. A child that already exited is only reaped."""
    for signum, timeout in ((signal.SIGINT, interrupt_s), (signal.SIGTERM, terminate_s)):
        if process.poll() is not None:
            return process.returncode
        process.send_signal(signum)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    return process.wait()
