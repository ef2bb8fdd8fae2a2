"""SIGKILL at a random moment loses nothing but the unfinished tail.

Real processes, real kills: `sgnet-replay` in direct mode, in ros mode (whose process is
the recorder), and the node under a ros-mode replay. Every output bag then opens: a bag
whose writer was killed is rebuilt by the next tool that opens it, with a line saying so,
and holds the frames up to the kill with no hole; a killed node leaves a closed bag.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from sgnet_ros.bags.io import DEFAULT_TOPICS, bag_topics, read_messages
from sgnet_ros.bags.recorder import header_stamp_ns

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("SGNET_KILL_SEED", time.time_ns() % 100_000))
LABELS = "/camera/segmentation/image"


def start_replay(bag: Path, out: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sgnet_ros.bags.replay", str(bag), "--out",
                             str(out), "--params-file", str(ROOT / "config" / "sgnet.yaml"),
                             *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_labels_on_disk(out: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    """Until the first chunk with a label image reached the file (the run is under way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(out.glob("*.mcap"))
        if files and files[0].stat().st_size > 2_000_000:
            return
        assert process.poll() is None, "the replay ended before it could be killed"
        time.sleep(0.1)
    raise AssertionError("no output reached the bag file in time")


def foxglove_messages(bag: Path) -> int:
    (mcap_file,) = bag.glob("*.mcap")
    with open(mcap_file, "rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        return sum(1 for *_, decoded in reader.iter_decoded_messages() if decoded is not None)


def input_stamps(bag: Path) -> list[int]:
    return sorted(header_stamp_ns(m.data) for m in read_messages(bag, [DEFAULT_TOPICS.rgb]))


def label_stamps(bag: Path) -> list[int]:
    return [header_stamp_ns(m.data) for m in read_messages(bag, [LABELS])]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def kill_at_random(process: subprocess.Popen, rng: random.Random, longest_s: float) -> float:
    delay = rng.uniform(0.0, longest_s)
    time.sleep(delay)
    assert process.poll() is None, "the replay finished before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    return delay


def check_repaired(out: Path, capfd) -> int:
    """The next tool that opens the bag repairs it with one line; returns frames kept."""
    assert not (out / "metadata.yaml").exists(), "the writer was not killed mid-run"
    capfd.readouterr()
    topics = bag_topics(out)
    line = capfd.readouterr().err.strip()
    assert line.startswith(f"repaired bag {out} (its writer was killed): kept "), line
    assert (out / "metadata.yaml").is_file()
    assert foxglove_messages(out) == sum(count for _, count in topics.values())
    assert bag_topics(out) == topics and capfd.readouterr().err == ""  # repaired once
    durability = {e["topic_metadata"]["name"]: e["topic_metadata"]["offered_qos_profiles"][0]
                  ["durability"] for e in yaml.safe_load((out / "metadata.yaml").read_text())
                  ["rosbag2_bagfile_information"]["topics_with_message_count"]}
    assert durability["/camera/segmentation/label_info"] == "transient_local"
    return len(label_stamps(out))


def test_killed_direct_replay_leaves_every_frame_up_to_the_kill(sample_bag, tmp_path, capfd):
    rng = random.Random(SEED)
    out = tmp_path / "direct"
    process = start_replay(sample_bag, out)
    wait_for_labels_on_disk(out, process)
    delay = kill_at_random(process, rng, 3.0)
    kept = check_repaired(out, capfd)
    print(f"seed {SEED}: killed {delay:.2f} s after the first chunk, {kept} frames kept")
    assert kept >= 1
    assert label_stamps(out) == input_stamps(sample_bag)[:kept]  # a prefix, no hole


def test_killed_ros_replay_takes_its_node_and_player_along_and_its_bag_opens(
        sample_bag, tmp_path, capfd):
    rng = random.Random(SEED + 1)
    out = tmp_path / "ros"
    process = start_replay(sample_bag, out, "--mode", "ros", "--rate", "0.5")
    wait_for_labels_on_disk(out, process)
    spawned = children(process.pid)
    assert spawned, "the replay started no node or player"
    delay = kill_at_random(process, rng, 3.0)
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in spawned), "node or player outlived the killed replay"
    kept = check_repaired(out, capfd)
    print(f"seed {SEED + 1}: killed {delay:.2f} s after the first chunk, {kept} frames kept")
    stamps = label_stamps(out)
    assert stamps == sorted(stamps) and set(stamps) <= set(input_stamps(sample_bag))


@pytest.mark.timeout(400)
def test_killed_node_leaves_a_closed_bag_and_a_report_that_says_so(sample_bag, tmp_path):
    rng = random.Random(SEED + 2)
    out = tmp_path / "node_killed"
    process = start_replay(sample_bag, out, "--mode", "ros", "--rate", "0.5")
    wait_for_labels_on_disk(out, process)
    node_pid = next(pid for pid in children(process.pid)
                    if b"sgnet_ros.ros.node" in Path(f"/proc/{pid}/cmdline").read_bytes())
    time.sleep(rng.uniform(0.0, 3.0))
    os.kill(node_pid, signal.SIGKILL)
    process.wait(timeout=300)
    assert (out / "metadata.yaml").is_file(), "the replay did not close its bag"
    assert foxglove_messages(out) == sum(c for _, c in bag_topics(out).values())
    report = (tmp_path / "node_killed_report" / "report.md").read_text()
    assert "the node exited with code -9 during the run" in report


def test_a_bag_torn_at_any_byte_keeps_every_message_before_the_tear(sample_bag, tmp_path,
                                                                    capfd, monkeypatch):
    """Whatever byte the kill lands on, the repaired bag is a prefix of what was written."""
    from sgnet_ros.bags import io

    rng = random.Random(SEED + 3)
    whole = tmp_path / "whole"
    monkeypatch.setattr(io, "CHUNK_FLUSH_S", 0.0)  # a chunk per message, as a slow recording
    with io.BagWriter(whole) as writer:
        for message in read_messages(sample_bag):
            writer.write_raw(message.topic, message.msgtype, message.timestamp_ns, message.data)
    written = [(m.topic, m.timestamp_ns, m.data) for m in read_messages(whole)]
    data = (whole / "whole.mcap").read_bytes()
    with open(whole / "whole.mcap", "rb") as stream:  # one message per chunk, by Foxglove
        chunk_ends = [c.chunk_start_offset + c.chunk_length
                      for c in make_reader(stream).get_summary().chunk_indexes]
    assert len(chunk_ends) == len(written)
    for cut in sorted(rng.sample(range(len(data)), 4)):
        torn = tmp_path / f"torn_{cut}"
        torn.mkdir()
        (torn / f"torn_{cut}.mcap").write_bytes(data[:cut])
        capfd.readouterr()
        kept = [(m.topic, m.timestamp_ns, m.data) for m in read_messages(torn)]
        assert "repaired bag" in capfd.readouterr().err
        complete = sum(1 for end in chunk_ends if end <= cut)
        assert kept == written[:complete], f"cut at byte {cut}"
        assert foxglove_messages(torn) == len(kept)
