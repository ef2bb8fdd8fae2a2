"""`sgnet-replay --mode ros`: node, player and recorder as separate ROS 2 participants.

The node runs in its own process exactly as `ros2 run` would start it, the player in
another, and this process records. All three share a loopback-only ROS domain of their
own. Latency is measured from each frame's header stamp, mapped to the wall time at which
the player replayed it, to the arrival of the label image at the recorder.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sgnet_ros.bags.io import BagTopics, BagWriter, bag_topics, read_messages
from sgnet_ros.bags.report import ReplayReport, report_dir, write_preview
from sgnet_ros.bags.topics import TopicError
from sgnet_ros.ros.children import stop_child
from sgnet_ros.ros.environment import isolate_this_process
from sgnet_ros.ros.messages import COMPRESSED_IMAGE_TYPE, decode_color, stamp_ns
from sgnet_ros.ros.shm_cleanup import clean as clean_shared_memory
from sgnet_ros.ros.shm_cleanup import zombie_names
from sgnet_ros.ros.transports import SUFFIXES

NODE_START_TIMEOUT_S = 120.0
DRAIN_S = 15.0  # longest wait for the node to finish its last frame


def input_transport(topic: str, msgtype: str) -> tuple[str, str]:
    """(base topic, transport) of a recorded image topic, as image_transport names them."""
    if msgtype != COMPRESSED_IMAGE_TYPE:
        return topic, "raw"
    base, _, suffix = topic.rpartition("/")
    if suffix not in SUFFIXES:
        raise TopicError(f"{topic} is a CompressedImage topic not named <base>/compressed or "
                         "<base>/compressedDepth, so the node cannot subscribe to it "
                         "through its transport parameters; use --mode direct")
    return base, suffix


def node_command(model: Path, params_file: Path | None, namespace: str,
                 topics: BagTopics, types: dict[str, str]) -> list[str]:
    """The node's command line: namespace, parameter file, model, transports, input remaps."""
    rgb_base, rgb_transport = input_transport(topics.rgb, types[topics.rgb])
    depth_base, depth_transport = input_transport(topics.depth, types[topics.depth])
    command = [sys.executable, "-m", "sgnet_ros.ros.node", "--ros-args",
               "-r", f"__ns:={namespace}"]
    if params_file:
        command += ["--params-file", str(params_file)]
    # Deeper output history than a robot needs: the recorder must not miss a frame. The JSON
    # label_info carries the colours and cloud topics the recorder needs.
    command += ["-p", f"model_path:={model}", "-p", "output_depth:=5",
                "-p", "label_info_format:=json",
                "-p", f"transport.rgb:={rgb_transport}",
                "-p", f"transport.depth:={depth_transport}",
                "-r", f"rgb/image_rect_color:={rgb_base}",
                "-r", f"depth_registered/image_rect:={depth_base}",
                "-r", f"rgb/camera_info:={topics.camera_info}"]
    return command


# Fast DDS repairs a lost sample when the writer's next heartbeat (every 3 s by default)
# triggers a NACK; by then the node's keep-last history (output_depth) had dropped it, and
# the samples after it were held back until then: the demo's missing first camera_info and
# late bursts. A 50 ms heartbeat repairs within the history. Only the replay's processes use
# this profile, and never over one the user set.
FASTDDS_RECORDING_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <data_writer profile_name="sgnet_replay_writer" is_default_profile="true">
      <times>
        <heartbeat_period><sec>0</sec><nanosec>50000000</nanosec></heartbeat_period>
      </times>
    </data_writer>
  </profiles>
</dds>
"""
PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"


def use_recording_profile(env: dict[str, str], directory: Path) -> None:
    """Point this process and `env` at FASTDDS_RECORDING_PROFILE (unless one is set)."""
    if env.get(PROFILE_VARIABLE):
        return
    path = directory / "fastdds_replay_profile.xml"
    path.write_text(FASTDDS_RECORDING_PROFILE)
    env[PROFILE_VARIABLE] = os.environ[PROFILE_VARIABLE] = str(path)


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when this process dies, even by SIGKILL (Linux),
    so a killed replay leaves no node or player running."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def replay_ros(args: argparse.Namespace, model: Path, report: ReplayReport,
               topics: BagTopics, types: dict[str, str]) -> None:
    """Play `args.bag` to a freshly started node and record its outputs to `args.out`."""
    command = node_command(model, args.params_file, args.namespace, topics, types)
    env = isolate_this_process()
    zombies_before = zombie_names()
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from sgnet_ros.bags.recorder import OutputRecorder
    logs = report_dir(args.out)
    logs.mkdir(parents=True, exist_ok=True)
    use_recording_profile(env, logs)  # before rclpy.init: the recorder's writers too
    node_log = open(logs / "node.log", "w")  # noqa: SIM115 - lives as long as the process
    node = subprocess.Popen(command, env=env, stdout=node_log, stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent)
    rclpy.init()
    recorder_node = rclpy.create_node("sgnet_replay_recorder")
    executor = SingleThreadedExecutor()  # one executor for the whole run: cheaper spins
    executor.add_node(recorder_node)
    player = None
    try:
        with BagWriter(args.out) as writer:
            recorder = OutputRecorder(recorder_node, args.namespace, writer,
                                      keep_images=lambda index: index % args.preview_every == 0)
            try:
                player = _record(args, env, logs, topics, node, executor, recorder)
                gaps = recorder.missing(int(recorder.state.diagnostics.get("frames processed",
                                                                           0)))
            finally:
                recorder.writer.close()  # what it queued goes to the bag before the bag closes
            if node.poll() is not None:
                report.notes.append(f"the node exited with code {node.returncode} during the "
                                    f"run; the outputs end with its last frame ({logs})")
    finally:
        if player is not None:
            stop_child(player)
        stop_child(node)
        node_log.close()
        recorder_node.destroy_node()
        rclpy.try_shutdown()
        # What a child killed after all left behind (and any older zombies on the machine).
        cleaned = clean_shared_memory(present_before=zombies_before)
        if cleaned.appeared[0]:
            report.notes.append(cleaned.line())
    player_lines = [line for line in (logs / "player.log").read_text().splitlines()
                    if line.startswith("{")]
    _fill_report(args, report, recorder.state, player_lines, topics, gaps)


def _record(args, env: dict[str, str], logs: Path, topics: BagTopics, node: subprocess.Popen,
            executor, recorder) -> subprocess.Popen:
    """Wait until both ends of every output matched, play the bag, drain; the player."""
    deadline = time.monotonic() + NODE_START_TIMEOUT_S
    while not recorder.ready:
        executor.spin_once(timeout_sec=0.1)
        if node.poll() is not None:
            raise RuntimeError(f"the node exited with code {node.returncode} before it "
                               f"was ready; see {logs / 'node.log'}")
        if time.monotonic() > deadline:
            stage = "did not come up" if recorder.state.label_info is None else \
                "came up but these outputs never matched the recorder: " + \
                ", ".join(recorder.unmatched())
            raise RuntimeError(f"the node {stage} in {NODE_START_TIMEOUT_S} s; "
                               f"see {logs / 'node.log'}")
    with open(logs / "player.log", "w") as player_log:
        player = subprocess.Popen(
            [sys.executable, "-m", "sgnet_ros.bags.player", str(args.bag), "--rate",
             str(args.rate), "--topics", topics.rgb, topics.depth, topics.camera_info],
            env=env, stdout=player_log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        while player.poll() is None:
            executor.spin_once(timeout_sec=0.05)
    _drain(executor, recorder, node)
    return player


def ledger_balanced(diagnostics: dict[str, str]) -> bool:
    """True when the node has accounted for every frame it received."""
    if "frames received" not in diagnostics:
        return False
    dropped = sum(int(v) for k, v in diagnostics.items() if k.startswith("dropped "))
    pending = int(diagnostics["frames pending sync"]) + \
        int(diagnostics.get("frames in pipeline", 0))
    return int(diagnostics["frames processed"]) + dropped + pending == \
        int(diagnostics["frames received"])


def _drain(executor, recorder, node: subprocess.Popen) -> None:
    """Spin until the node's diagnostics account for every frame twice in a row and the
    recorder holds every message the node published (or time out, or the node is gone)."""
    deadline = time.monotonic() + DRAIN_S
    settled, previous = 0, None
    while time.monotonic() < deadline and node.poll() is None:
        executor.spin_once(timeout_sec=0.05)
        current = recorder.state.diagnostics
        if current is not previous:
            settled = settled + 1 if ledger_balanced(current) else 0
            previous = current
        if settled >= 2 and not recorder.missing(int(current["frames processed"])):
            return
    until = time.monotonic() + 1.0  # the node died: take what it sent before
    while node.poll() is not None and time.monotonic() < until:
        executor.spin_once(timeout_sec=0.05)


def _fill_report(args, report: ReplayReport, state, player_lines: list[str],
                 topics: BagTopics, gaps: dict[str, tuple[int, int]]) -> None:
    from sgnet_ros.bags.recorder import decode_image_cdr
    from sgnet_ros.pipeline.codec import to_rgb8
    from sgnet_ros.pipeline.outputs.overlay import colorize_labels
    timing = next((json.loads(line) for line in player_lines if "start_wall_ns" in line), None)
    if timing is None:
        raise RuntimeError("the bag player sent nothing; is the bag empty?")
    report.frames_in = bag_topics(args.bag).get(topics.rgb, ("", 0))[1]
    diagnostics = state.diagnostics
    report.received = int(diagnostics.get("frames received", 0))
    report.synced = int(diagnostics.get("frames synced", 0))
    report.published = sum(1 for frame in state.frames.values() if frame.labels_arrived)
    report.processed = int(diagnostics.get("frames processed", 0))
    if report.processed > report.published:
        report.notes.append(f"the node published {report.processed} frames; the recorder "
                            f"received the label image of {report.published} (it fell behind)")
    report.dropped = {key.removeprefix("dropped "): int(value)
                      for key, value in diagnostics.items() if key.startswith("dropped ")}
    if report.received == 0:
        report.notes.append(f"no colour frame reached the node: see {report_dir(args.out)}/"
                            "node.log for a QoS or input type mismatch line")
    elif report.received < report.frames_in:
        report.notes.append(
            f"{report.frames_in - report.received} colour frames never reached the node: its "
            "input subscription's QoS history (input_qos, input_depth) let them go while the "
            "node was busy")
    report.pending_at_end = int(diagnostics.get("frames pending sync", 0))
    for stamp, frame in state.frames.items():
        if not frame.labels_arrived:
            continue
        replayed_at = timing["start_wall_ns"] + (stamp - timing["bag_start_ns"]) / timing["rate"]
        report.latency_ms.append((frame.arrival_ns - replayed_at) / 1e6)
    for key, value in diagnostics.items():
        if key.startswith("stage ") and key.endswith(" (ms)"):
            stage, quantile = key.removeprefix("stage ").removesuffix(" (ms)").rsplit(" ", 1)
            report.stage_percentiles_ms.setdefault(stage, {})[quantile] = float(value)
    report.outputs = {topic.removeprefix(args.namespace.rstrip("/") + "/"): n
                      for topic, n in state.counts.items() if topic != "/diagnostics"}
    report.recorder_loss = {topic.removeprefix(args.namespace.rstrip("/") + "/"): counts
                            for topic, counts in gaps.items()}
    report.notes.extend(f"node input {key.removeprefix('input type mismatch ')}: {value}"
                        for key, value in diagnostics.items()
                        if key.startswith("input type mismatch"))
    palette = np.array([c["color"] for c in state.label_info["classes"]], dtype=np.uint8)
    previews = {f.index: (stamp, f) for stamp, f in state.frames.items()
                if f.labels_cdr is not None and f.overlay_cdr is not None}
    wanted = {stamp: index for index, (stamp, _) in previews.items()}
    for message in read_messages(args.bag, [topics.rgb]):
        msg = message.decode()
        stamp = stamp_ns(msg.header)
        if stamp in wanted:
            frame = previews[wanted[stamp]][1]
            _, labels = decode_image_cdr(frame.labels_cdr)
            encoding, overlay = decode_image_cdr(frame.overlay_cdr)
            write_preview(report_dir(args.out) / "previews", frame.index, decode_color(msg),
                          colorize_labels(labels, palette), to_rgb8(overlay, encoding))
    report.notes.append("ros mode: stage times are the node's own percentiles (last diagnostics); "
                        "latency includes ROS transport both ways")
