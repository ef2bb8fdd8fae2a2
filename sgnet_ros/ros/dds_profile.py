"""How this project's ROS processes move 1-6 MB messages: the Fast DDS profile they get.

With ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, rmw_fastrtps (Jazzy, Kilted, Rolling) replaces
the participant's transports with its own: shared memory with Fast DDS's 512 KB default
segment plus UDPv4. Images of 0.9 MB and clouds of 6 MB do not fit such a segment; their
fragments get lost and reliable delivery waits for a resend (latency of 1-3 publish
periods). `config/fastdds_loopback.xml` gives a 64 MB segment instead and keeps discovery
and UDP on 127.0.0.1 itself, so the ROS variable is set to SYSTEM_DEFAULT (the value
rmw_fastrtps documents for "the XML decides") only while that file is in place.
"""

from __future__ import annotations

from pathlib import Path

from sgnet_ros.pipeline.shipped import shipped_file

TRANSPORTS = ("configured", "default")
PROFILE_NAME = "fastdds_loopback.xml"
PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"
# Also the pre-3.0 name: a profile inherited under either must not reach a `default` child.
PROFILE_VARIABLES = (PROFILE_VARIABLE, "FASTRTPS_DEFAULT_PROFILES_FILE")


def profile_path() -> Path:
    """The shipped profile: the source tree's config/, else the ament share directory."""
    return shipped_file("config", PROFILE_NAME)


def transport_environment(transport: str) -> dict[str, str]:
    """The variables that select `transport` (one of TRANSPORTS) for a child process.

    `default` is rmw_fastrtps's own loopback set-up (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST);
    `configured` is the shipped profile, which confines discovery and UDP to 127.0.0.1 itself.
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r} is not one of {TRANSPORTS}")
    profile = profile_path()
    if transport == "default" or not profile.is_file():
        return {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    return {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SYSTEM_DEFAULT", PROFILE_VARIABLE: str(profile)}
