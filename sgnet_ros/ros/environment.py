"""The environment of every ROS process this project starts: loopback-only, own domain.

Nothing may leave the machine and parallel runs (CI, two developers' tests) must not hear
each other, so the demo, replay and tests give their children
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a ROS_DOMAIN_ID of their own. The node itself
never touches these: on a robot the launch environment decides.
"""

from __future__ import annotations

import os
import random

# Domain ids 1..101 keep DDS ports inside Linux's default ephemeral-port gap.
DOMAIN_RANGE = (1, 101)


def pick_domain_id() -> int:
    """A domain id unlikely to be shared with a concurrent run on this machine."""
    return random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little")).randint(
        *DOMAIN_RANGE)


def isolated_ros_environment(domain_id: int | None = None,
                             base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default: os.environ) confined to loopback and one domain."""
    env = dict(os.environ if base is None else base)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_DOMAIN_ID"] = str(domain_id if domain_id is not None else pick_domain_id())
    if env.get("ROS_DISTRO") == "humble":  # Humble predates ROS_AUTOMATIC_DISCOVERY_RANGE
        env["ROS_LOCALHOST_ONLY"] = "1"
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    return env


def isolate_this_process(domain_id: int | None = None) -> dict[str, str]:
    """Apply `isolated_ros_environment` to this process (before rclpy.init) and return it."""
    env = isolated_ros_environment(domain_id)
    os.environ.update(env)
    return env
