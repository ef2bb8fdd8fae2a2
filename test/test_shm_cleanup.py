"""Fast DDS shared memory: what a SIGKILLed participant leaves, what `clean` removes, what it
must never touch, and that our tools stop their children so nothing is left at all.

Real child processes with the shipped Fast DDS profile (64 MB segments), on loopback, in a
domain of their own. Each child's segment is the `_el` lock file it holds open.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sgnet_ros.ros.children import stop_child
from sgnet_ros.ros.environment import isolated_ros_environment
from sgnet_ros.ros.shm_cleanup import (
    SHM_DIR,
    clean,
    find_zombies,
    wait_until_judgeable,
    zombie_names,
)

pytestmark = pytest.mark.skipif(not SHM_DIR.is_dir(), reason=f"no {SHM_DIR} on this system")

PARTICIPANT = Path(__file__).resolve().parent / "shm_participant.py"
SEGMENT_LOCK = re.compile(r"^(?:fastdds|fastrtps)_[0-9a-f]{16}_el$")
TIMEOUT_S = 60.0


class Participant:
    """test/shm_participant.py in its own process, its stdout lines collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, str(PARTICIPANT)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def heard(self, other: Participant) -> bool:
        """Wait until an image of `other` arrived here."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            if f"heard {other.process.pid}" in self.lines:
                return True
            time.sleep(0.1)
        return False

    def segment(self) -> str:
        """The name of the one Fast DDS segment this process owns (holds the lock of)."""
        held = set()
        for descriptor in Path(f"/proc/{self.process.pid}/fd").iterdir():
            try:
                target = Path(os.readlink(descriptor))
            except OSError:
                continue
            if target.parent == SHM_DIR and SEGMENT_LOCK.match(target.name):
                held.add(target.name[:-len("_el")])
        assert len(held) == 1, (held, self.lines)
        return held.pop()


def segment_files(name: str) -> list[Path]:
    return [path for path in (SHM_DIR / name, SHM_DIR / f"{name}_el") if path.exists()]


@pytest.fixture
def participants():
    env = isolated_ros_environment(transport="configured")
    started: list[Participant] = []

    def start() -> Participant:
        started.append(Participant(env))
        return started[-1]

    yield start
    for participant in started:
        stop_child(participant.process)


def test_a_killed_participant_is_cleaned_while_a_live_one_stays_and_still_works(participants):
    live, doomed = participants(), participants()
    assert live.heard(doomed) and doomed.heard(live), (live.lines, doomed.lines)
    live_segment, doomed_segment = live.segment(), doomed.segment()
    doomed.process.kill()
    doomed.process.wait()

    assert segment_files(doomed_segment), "SIGKILL left nothing behind: nothing to test"
    wait_until_judgeable()  # lock files younger than MIN_AGE_S are left alone
    zombies = {zombie.name for zombie in find_zombies()}
    assert doomed_segment in zombies and live_segment not in zombies
    cleaned = clean()

    assert segment_files(doomed_segment) == [], cleaned
    assert cleaned.segments >= 1 and cleaned.bytes >= 64 * 2**20, cleaned
    assert len(segment_files(live_segment)) == 2, "clean removed a live participant's segment"
    newcomer = participants()
    assert newcomer.heard(live) and live.heard(newcomer), (live.lines, newcomer.lines)
    assert live.segment() == live_segment


def test_a_child_stopped_by_stop_child_frees_its_segment_itself(participants):
    first, second = participants(), participants()
    assert first.heard(second), first.lines
    segment = first.segment()

    code = stop_child(first.process)
    assert segment_files(segment) == [], "the stopped child left its segment in /dev/shm"
    assert code == 0, first.lines


def test_transport_check_leaves_no_zombie_segments(tmp_path):
    before = {zombie.name for zombie in find_zombies()}
    run = subprocess.run(
        [sys.executable, "-m", "sgnet_ros.benchmarks.transport_check", "--pairs", "2",
         "--transport", "configured", "--size", "1000000", "--messages", "3",
         "--out", str(tmp_path / "transport_check.json")],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    wait_until_judgeable()  # lock files younger than MIN_AGE_S are left alone
    left = [zombie for zombie in find_zombies() if zombie.name not in before]
    assert left == [], run.stdout


HOLD_LOCKS = """
import fcntl, os, sys
held = [os.open(path, os.O_RDONLY) for path in sys.argv[1:]]
for descriptor in held:
    fcntl.flock(descriptor, fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.read()
"""


def test_the_lock_rule_in_a_folder_of_its_own(tmp_path):
    """Another process's held lock protects a segment or port; unheld ones of either naming
    (fastdds_, pre-3.0 fastrtps_) go with their data and mutex files; nothing else is touched."""
    names = {"fastdds_00000000000000aa": 1000, "fastdds_00000000000000aa_el": 0,
             "fastrtps_00000000000000bb": 2000, "fastrtps_00000000000000bb_el": 0,
             "fastdds_00000000000000cc_el": 0,  # a lock whose segment is already gone
             "fastdds_port7001": 300, "fastdds_port7001_el": 0, "sem.fastdds_port7001_mutex": 32,
             "fastdds_port7002": 300, "fastdds_port7002_el": 0, "fastdds_port7002_sl": 0,
             "sem.fastdds_port7002_mutex": 32,
             "fastdds_00000000000000dd": 4000, "fastdds_00000000000000dd_el": 0,
             "fastdds_port7003": 300, "fastdds_port7003_el": 0,
             "other_file": 10}
    for name, size in names.items():
        (tmp_path / name).write_bytes(bytes(size))
    held = ["fastdds_00000000000000dd_el", "fastdds_port7002_sl"]
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCKS,
                               *(str(tmp_path / name) for name in held)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert clean(tmp_path, min_age_s=3600).segments == 0  # too young to judge
        cleaned = clean(tmp_path, min_age_s=0)
    finally:
        holder.communicate("")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ["fastdds_00000000000000dd", "fastdds_00000000000000dd_el", "fastdds_port7002",
         "fastdds_port7002_el", "fastdds_port7002_sl", "sem.fastdds_port7002_mutex",
         "other_file"])
    assert (cleaned.segments, cleaned.ports, cleaned.bytes) == (3, 2, 1000 + 2000 + 300 + 32 + 300)


def test_a_run_reports_only_the_zombies_that_appeared_during_it(tmp_path):
    (tmp_path / "fastdds_00000000000000a1").write_bytes(bytes(7000))
    (tmp_path / "fastdds_00000000000000a1_el").write_bytes(b"")
    before = zombie_names(tmp_path, min_age_s=0)
    (tmp_path / "fastdds_00000000000000b2").write_bytes(bytes(2_500_000))
    (tmp_path / "fastdds_00000000000000b2_el").write_bytes(b"")
    cleaned = clean(tmp_path, min_age_s=0, present_before=before)
    assert list(tmp_path.iterdir()) == []
    assert (cleaned.segments, cleaned.appeared) == (2, (1, 2_500_000))
    assert cleaned.line().endswith("; 1 of them (2.5 MB) appeared during this run")


def test_the_console_command_prints_what_it_removed(tmp_path):
    (tmp_path / "fastdds_00000000000000ee").write_bytes(bytes(1_500_000))
    (tmp_path / "fastdds_00000000000000ee_el").write_bytes(b"")
    run = subprocess.run([str(Path(sys.executable).parent / "sgnet-shm-clean"), "--dir",
                          str(tmp_path), "--min-age", "0"], capture_output=True, text=True,
                         timeout=60)
    assert (run.returncode, run.stdout) == (0, "sgnet-shm-clean: removed 1 zombie Fast DDS "
                                               "segments and 0 ports (1.5 MB)\n"), run.stderr
    assert list(tmp_path.iterdir()) == []
