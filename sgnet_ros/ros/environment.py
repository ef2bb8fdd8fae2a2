"""The environment of every ROS process this project starts: loopback-only, own domain.

Nothing may leave the machine and parallel runs (CI, two developers' tests, replays) must
not hear each other, so the demo, replay and tests give their children
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a ROS_DOMAIN_ID that no other run of the
project on this machine holds: each id is claimed with an exclusive lock on a file, held
until the claiming process exits (the kernel releases it even after SIGKILL). The node
itself never touches these: on a robot the launch environment decides.
"""

from __future__ import annotations

import fcntl
import os
import random
import tempfile
from pathlib import Path

from sgnet_ros.ros.dds_profile import PROFILE_VARIABLES, transport_environment

# Domain ids 1..101 keep DDS ports inside Linux's default ephemeral-port gap.
DOMAIN_RANGE = (1, 101)
# One lock file per id; SGNET_ROS_DOMAIN_LOCK_DIR moves them (tests use a private folder).
LOCK_DIR_VARIABLE = "SGNET_ROS_DOMAIN_LOCK_DIR"
# Opts every process the project starts into the shipped Fast DDS profile (`configured`).
TRANSPORT_VARIABLE = "SGNET_ROS_TRANSPORT"

_claimed: dict[int, int] = {}  # domain id -> file descriptor holding its lock


class DomainsExhaustedError(RuntimeError):
    """Every domain id in DOMAIN_RANGE is held by another run on this machine."""


def claim_domain_id() -> int:
    """A domain id that no other process of the project holds, locked until this one exits.

    Ids are tried from a random start so that runs do not queue on the same file.
    """
    lock_dir = Path(os.environ.get(LOCK_DIR_VARIABLE)
                    or Path(tempfile.gettempdir()) / "sgnet_ros_domain_locks")
    lock_dir.mkdir(mode=0o777, parents=True, exist_ok=True)
    low, high = DOMAIN_RANGE
    count = high - low + 1
    start = random.SystemRandom().randrange(count)
    for offset in range(count):
        domain_id = low + (start + offset) % count
        if domain_id in _claimed:
            continue
        descriptor = os.open(lock_dir / f"{domain_id}.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        _claimed[domain_id] = descriptor
        return domain_id
    raise DomainsExhaustedError(
        f"all ROS domain ids {low}..{high} are held by other sgnet_ros runs on this machine "
        f"(locks in {lock_dir}); wait for them to finish")


def isolated_ros_environment(domain_id: int | None = None,
                             base: dict[str, str] | None = None,
                             transport: str | None = None) -> dict[str, str]:
    """A copy of `base` (default: os.environ) confined to loopback and one claimed domain.

    `transport` (sgnet_ros.ros.dds_profile.TRANSPORTS): `default` = rmw_fastrtps's own
    loopback set-up (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST), `configured` = the shipped
    Fast DDS profile for large messages. Unset: SGNET_ROS_TRANSPORT, else `default`, since
    the profile measured no faster on 2 cores (README, Performance).
    """
    env = dict(os.environ if base is None else base)
    transport = transport or env.get(TRANSPORT_VARIABLE) or "default"
    for variable in PROFILE_VARIABLES:
        env.pop(variable, None)
    env.update(transport_environment(transport))
    env["ROS_DOMAIN_ID"] = str(domain_id if domain_id is not None else claim_domain_id())
    if env.get("ROS_DISTRO") == "humble":  # Humble predates ROS_AUTOMATIC_DISCOVERY_RANGE
        env["ROS_LOCALHOST_ONLY"] = "1"
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    return env


def isolate_this_process(domain_id: int | None = None) -> dict[str, str]:
    """Apply `isolated_ros_environment` to this process (before rclpy.init) and return it."""
    env = isolated_ros_environment(domain_id)
    for variable in PROFILE_VARIABLES:
        os.environ.pop(variable, None)
    os.environ.update(env)
    return env
