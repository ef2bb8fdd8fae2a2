"""Every run claims a ROS domain no other run on the machine holds (real processes, real locks)."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys

from sgnet_ros.ros.environment import DOMAIN_RANGE, LOCK_DIR_VARIABLE

CLAIM_AND_WAIT = (
    "import sys\n"
    "from sgnet_ros.ros.environment import DomainsExhaustedError, isolate_this_process\n"
    "try:\n"
    "    print(isolate_this_process()['ROS_DOMAIN_ID'], flush=True)\n"
    "except DomainsExhaustedError as error:\n"
    "    print(error, flush=True)\n"
    "    sys.exit(2)\n"
    "sys.stdin.read()\n"  # hold the claim until the test closes stdin or kills us
)


def start_claimer(lock_dir) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, **{LOCK_DIR_VARIABLE: str(lock_dir)})
    process = subprocess.Popen([sys.executable, "-c", CLAIM_AND_WAIT], env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return process, process.stdout.readline().strip()


def hold_all_but(lock_dir, free_id: int) -> list[int]:
    descriptors = []
    for domain_id in range(DOMAIN_RANGE[0], DOMAIN_RANGE[1] + 1):
        if domain_id != free_id:
            descriptor = os.open(lock_dir / f"{domain_id}.lock", os.O_CREAT | os.O_RDWR)
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            descriptors.append(descriptor)
    return descriptors


def test_a_held_domain_is_never_handed_out_twice_and_is_freed_by_sigkill(tmp_path):
    free_id = 57
    held = hold_all_but(tmp_path, free_id)
    try:
        first, first_id = start_claimer(tmp_path)
        assert first_id == str(free_id), "the only unheld domain id must be the one claimed"
        second, message = start_claimer(tmp_path)
        assert second.wait(timeout=30) == 2
        assert "all ROS domain ids 1..101 are held" in message
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        third, third_id = start_claimer(tmp_path)
        assert third_id == str(free_id), "a killed run's domain must be free again"
        third.stdin.close()
        assert third.wait(timeout=30) == 0
    finally:
        for descriptor in held:
            os.close(descriptor)


def test_concurrent_runs_get_distinct_domains(tmp_path):
    runs = [start_claimer(tmp_path) for _ in range(12)]
    try:
        ids = [domain_id for _, domain_id in runs]
        assert len(set(ids)) == len(ids), f"two runs share a domain: {sorted(ids)}"
    finally:
        for process, _ in runs:
            process.stdin.close()
            process.wait(timeout=30)
