"""SIGINT ends the node even when nothing wakes its executor.

With use_sim_time and no /clock, the diagnostics timer never fires and no input arrives, so
no wait ever ends by itself; the signal must still be noticed (`ros2 launch` escalates to
SIGKILL after 15 s otherwise).
"""

import signal

import pytest
from ros_harness import start_node

pytestmark = pytest.mark.ros


def test_sigint_ends_a_node_on_sim_time_without_a_clock():
    node = start_node("-p", "use_sim_time:=true", "-p", "warmup_size:=[320, 240]")
    try:
        for line in node.stdout:
            if "ready in" in line:
                break
        node.send_signal(signal.SIGINT)
        output, _ = node.communicate(timeout=10)
    finally:
        if node.poll() is None:
            node.kill()
            node.communicate()
    assert node.returncode == 0, output
