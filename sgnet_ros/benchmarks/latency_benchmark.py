"""`sgnet-bench-latency`: the node through real ROS topics at camera rate, every design in one run.

    python -m sgnet_ros.benchmarks.latency_benchmark --duration 30 --readme README.md

For each configuration (serial vs pipelined node, rmw_fastrtps's default loopback transport
vs the shipped Fast DDS profile, with and without a subscriber to the organized cloud, raw
vs compressed input, an unloaded 3 Hz row and a thread-budget sweep) it starts the node, a
recorder and a player as three processes in a loopback domain of their own. The player
loops the sample bag's 640x480 frames at 30 Hz with each header stamp rewritten to the wall
time of publishing; the recorder measures stamp -> arrival of every
label image and keeps the node's last diagnostics (stamp -> receipt, per-stage queue waits
and times, stamp -> publish, the ledger). The direct section runs the same frames through
the pipeline in this process, serial vs three overlapping stages, as fast as they go, and
one frame at a time through the stages (their unloaded wall and CPU times). Each row also
reads the CPU time node, player and recorder spent, and the node's per-stage thread CPU
times, for the floor these imply on this machine's cores. The first `--settle` seconds of
each run are left out. Writes latency.{json,md} and, with --readme, the README's `latency`
section.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sgnet_ros.benchmarks.pipeline_benchmark import hardware
from sgnet_ros.benchmarks.readme_sections import replace_section
from sgnet_ros.ros.shm_cleanup import clean as clean_shared_memory
from sgnet_ros.ros.shm_cleanup import zombie_names

NAMESPACE = "/camera"
START_TIMEOUT_S = 180.0
TARGETS = {"rate_hz": 25.0, "p50_ms": 80.0, "p95_ms": 120.0, "max_ms": 250.0,
           "direct_speedup": 1.6}
STAGES = ("decode", "inference", "outputs")
UNLOADED_RATE_HZ = 3.0


@dataclass(frozen=True)
class Configuration:
    """One row: the node's design, the transport and whether a cloud subscriber listens."""

    name: str
    pipelined: bool
    transport: str
    cloud_subscriber: bool
    compressed: bool = False  # jpeg colour + compressedDepth png instead of raw images
    threads: tuple[int, int] | None = None  # (torch, onnx); None: the design's own budget
    rate_hz: float | None = None  # None: the run's --rate
    sweep: bool = False  # a row of the thread-budget table, not of the main one

    def node_parameters(self) -> list[str]:
        # The serial design as it was: one worker, torch and ONNX Runtime at their defaults.
        torch_threads, onnx_threads = self.threads or ((1, 1) if self.pipelined else (0, 0))
        transports = ["transport.rgb:=compressed", "transport.depth:=compressedDepth"] \
            if self.compressed else []
        return [f"pipelined:={str(self.pipelined).lower()}", f"threads.torch:={torch_threads}",
                f"threads.onnx:={onnx_threads}", *transports]


CONFIGURATIONS = (
    Configuration("serial, default transport", False, "default", False),
    Configuration("serial, configured transport", False, "configured", False),
    Configuration("pipelined, default transport", True, "default", False),
    Configuration("pipelined, configured transport", True, "configured", False),
    Configuration("pipelined, configured transport, cloud subscriber", True, "configured", True),
    Configuration("serial, default transport, cloud subscriber", False, "default", True),
    Configuration("pipelined, default transport, compressed input", True, "default", False,
                  compressed=True),
    Configuration("pipelined, configured transport, compressed input", True, "configured",
                  False, compressed=True),
    Configuration(f"pipelined, configured transport, {UNLOADED_RATE_HZ:.0f} Hz input (unloaded)",
                  True, "configured", False, rate_hz=UNLOADED_RATE_HZ),
    *(Configuration(f"pipelined, configured transport, threads torch {t} / onnx {o}", True,
                    "configured", False, threads=(t, o), sweep=True)
      for t, o in ((1, 2), (2, 1), (2, 2))),
)
# The sweep's 1 / 1 cell is the main table's pipelined, configured transport row.
SWEEP_BASE = 3


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, all its threads (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy since boot (from /proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _compressed_messages(frames: dict[str, list], topics) -> dict[str, list]:
    """The player's frames as a RealSense records them through image_transport: jpeg
    `compressed` colour and png `compressedDepth` depth, on <topic>/compressed(Depth)."""
    from sensor_msgs.msg import CompressedImage

    from sgnet_ros.pipeline.codec import (
        depth_m_to_16uc1,
        encode_compressed_color,
        encode_compressed_depth_16uc1,
    )
    from sgnet_ros.ros.messages import decode_color, decode_depth

    def message(header, fmt_data) -> CompressedImage:
        fmt, data = fmt_data
        return CompressedImage(header=header, format=fmt, data=data)

    return {f"{topics.rgb}/compressed": [
                message(m.header, encode_compressed_color(decode_color(m)))
                for m in frames[topics.rgb]],
            f"{topics.depth}/compressedDepth": [
                message(m.header, encode_compressed_depth_16uc1(depth_m_to_16uc1(decode_depth(m))))
                for m in frames[topics.depth]],
            topics.camera_info: frames[topics.camera_info]}


# --- the player ---------------------------------------------------------------------------
def _play(bag: str, rate_hz: float, duration_s: float, compressed: bool) -> None:
    """Loop the bag's RGB-D frames at `rate_hz`, stamps rewritten to the publish time."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CameraInfo, Image

    from sgnet_ros.bags.io import DEFAULT_TOPICS, read_messages

    topics = DEFAULT_TOPICS
    classes = {topics.rgb: Image, topics.depth: Image, topics.camera_info: CameraInfo}
    frames: dict[str, list] = {topic: [] for topic in classes}
    for message in read_messages(bag, list(classes)):
        frames[message.topic].append(deserialize_message(message.data, classes[message.topic]))
    count = min(len(f) for f in frames.values())
    if compressed:
        frames = _compressed_messages(frames, topics)
    rclpy.init()
    node = rclpy.create_node("sgnet_latency_player")
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    publishers = {topic: node.create_publisher(type(frames[topic][0]), topic, qos)
                  for topic in frames}
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and not all(
            p.get_subscription_count() for p in publishers.values()):
        time.sleep(0.05)
    period_ns = int(1e9 / rate_hz)
    start = time.time_ns() + 100_000_000
    cpu_start = time.process_time()
    index = sent = 0
    while True:
        due = start + index * period_ns
        if due - start > duration_s * 1e9:
            break
        delay = (due - time.time_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)
        stamp = node.get_clock().now().to_msg()
        for topic, publisher in publishers.items():
            msg = frames[topic][index % count]
            msg.header.stamp = stamp
            publisher.publish(msg)
        sent += 1
        index += 1
    print(json.dumps({"sent": sent, "start_ns": start, "end_ns": time.time_ns(),
                      "cpu_s": time.process_time() - cpu_start}), flush=True)
    time.sleep(0.5)
    node.destroy_node()
    rclpy.try_shutdown()


# --- the recorder -------------------------------------------------------------------------
def _record(cloud_subscriber: bool) -> None:
    """Label image arrivals (stamp, arrival ns) and the node's diagnostics until stdin closes."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image, PointCloud2

    rclpy.init()
    node = rclpy.create_node("sgnet_latency_recorder")
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    arrivals: list[tuple[int, int]] = []
    clouds: list[int] = []
    diagnostics: dict[str, str] = {}

    def stamp(msg) -> int:
        return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec

    def on_labels(msg: Image) -> None:
        arrivals.append((stamp(msg), time.time_ns()))

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "segmentation" in status.name:
                diagnostics.clear()
                diagnostics.update({kv.key: kv.value for kv in status.values})

    labels = node.create_subscription(Image, f"{NAMESPACE}/segmentation/image", on_labels, qos)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    if cloud_subscriber:
        node.create_subscription(PointCloud2, f"{NAMESPACE}/points",
                                 lambda msg: clouds.append(stamp(msg)), qos)
    announced = False
    while True:
        rclpy.spin_once(node, timeout_sec=0.02)
        if not announced and labels.get_publisher_count():
            print("ready", flush=True)
            announced = True
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            break
    print(json.dumps({"arrivals": arrivals, "clouds": len(clouds),
                      "diagnostics": diagnostics}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


# --- one configuration ----------------------------------------------------------------------
def _module(role: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sgnet_ros.benchmarks.latency_benchmark", "--role", role,
            *extra]


def run_configuration(config: Configuration, bag: str, model: Path, duration_s: float,
                      rate_hz: float, settle_s: float, logs: Path) -> dict:
    """Node, recorder and player for one configuration; the row's numbers."""
    rate_hz = config.rate_hz or rate_hz
    from sgnet_ros.bags.replay_ros import die_with_parent
    from sgnet_ros.ros.children import stop_child
    from sgnet_ros.ros.environment import isolated_ros_environment

    env = isolated_ros_environment(transport=config.transport)
    logs.mkdir(parents=True, exist_ok=True)
    slug = config.name.replace(", ", "_").replace(" / ", "_").replace(" ", "_")
    node_log = logs / f"{slug}.node.log"
    params = [arg for p in config.node_parameters() for arg in ("-p", p)]
    with open(node_log, "w") as log:
        node = subprocess.Popen(
            [sys.executable, "-m", "sgnet_ros.ros.node", "--ros-args", "-r",
             f"__ns:={NAMESPACE}", "-p", f"model_path:={model}", "-p",
             "label_info_format:=json", "-r", "rgb/image_rect_color:=/camera/rgb/image_rect_color",
             "-r", "depth_registered/image_rect:=/camera/depth_registered/image_rect",
             "-r", "rgb/camera_info:=/camera/rgb/camera_info", *params],
            env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    recorder = subprocess.Popen(_module("record", *(["--cloud-subscriber"]
                                                    if config.cloud_subscriber else [])),
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "ready in" not in node_log.read_text():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{config.name}: the node did not come up; see {node_log}")
            time.sleep(0.2)
        if recorder.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{config.name}: the recorder never matched the node")
        cpu_before = _cpu_seconds(node.pid), _cpu_seconds(recorder.pid), _machine_busy_seconds()
        player = subprocess.run(_module("play", "--bag", bag, "--rate", str(rate_hz),
                                        "--duration", str(duration_s),
                                        *(["--compressed"] if config.compressed else [])),
                                env=env, capture_output=True, text=True,
                                timeout=duration_s + 120, preexec_fn=die_with_parent)
        played = json.loads([line for line in player.stdout.splitlines()
                             if line.startswith("{")][-1])
        time.sleep(2.5)  # the last frames and one more diagnostics message
        played["node_cpu_s"] = _cpu_seconds(node.pid) - cpu_before[0]
        played["recorder_cpu_s"] = _cpu_seconds(recorder.pid) - cpu_before[1]
        played["machine_cpu_s"] = _machine_busy_seconds() - cpu_before[2]
        recorded_text, _ = recorder.communicate(input="", timeout=30)
    finally:
        stop_child(recorder)
        stop_child(node, interrupt_s=15)
    recorded = json.loads([line for line in recorded_text.splitlines()
                           if line.startswith("{")][-1])
    return summarise(config, played, recorded, settle_s)


def summarise(config: Configuration, played: dict, recorded: dict, settle_s: float) -> dict:
    """Rate and stamp->arrival percentiles after the settling time, plus the node's segments."""
    window_start = played["start_ns"] + settle_s * 1e9
    window_end = played["end_ns"]
    latencies = [(arrival - stamp) / 1e6 for stamp, arrival in recorded["arrivals"]
                 if window_start <= stamp <= window_end]
    seconds = (window_end - window_start) / 1e9
    p50, p95, p99 = np.percentile(latencies, (50, 95, 99)) if latencies else (np.nan,) * 3
    diagnostics = recorded["diagnostics"]

    def value(key: str) -> float:
        return float(diagnostics.get(key, "nan"))

    segments = {name: value(f"{name} p50 (ms)") for name in (
        "latency stamp->receipt", "queue decode", "queue inference", "queue outputs",
        "queue serial", "stage spatial", "stage inference", "stage outputs",
        "latency stamp->publish", *(f"cpu {stage}" for stage in (*STAGES, "serial")))}
    rate = len(latencies) / seconds if seconds > 0 else 0.0
    return {"configuration": config.name, "pipelined": config.pipelined,
            "transport": config.transport, "cloud_subscriber": config.cloud_subscriber,
            "compressed": config.compressed, "threads": config.threads, "sweep": config.sweep,
            "input_hz": config.rate_hz,
            "sent": played["sent"], "rate_hz": rate,
            "cpu": cpu_budget(played, rate, segments),
            "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99),
            "max_ms": float(max(latencies, default=np.nan)),
            "publish_p95_ms": value("latency stamp->publish p95 (ms)"),
            "segments_p50_ms": segments,
            "ledger": {key: diagnostics.get(key) for key in diagnostics
                       if key.startswith(("frames ", "dropped "))}}


def cpu_budget(played: dict, out_hz: float, segments: dict[str, float]) -> dict:
    """Where the cores went while the player played, and the output rates that implies.

    The player's and the node's receiving work (executor, deserialising, sync, diagnostics:
    the node's CPU outside its stages) grow with the input rate, the stages and the
    recorder with the output rate; so the most the cores allow at this input rate is
    (cores - input-bound CPU) / (stage CPU + recorder CPU per output frame). A stage runs
    on one thread, so the slowest stage's CPU time per frame also caps the rate.
    All four CPU figures (node, player, recorder, whole machine) are CPU seconds over one
    window (just before the player starts to 2.5 s after it ends) per second of playing, so
    the machine's figure is at least the sum of the other three.
    """
    seconds = (played["end_ns"] - played["start_ns"]) / 1e9
    cores = os.cpu_count() or 1
    stage_cpu_ms = [segments.get(f"cpu {stage}", np.nan) for stage in STAGES]
    if any(np.isnan(stage_cpu_ms)):
        stage_cpu_ms = [segments.get("cpu serial", np.nan)]
    stage_s = float(np.sum(stage_cpu_ms)) / 1000.0
    node_cores = played["node_cpu_s"] / seconds
    player_cores = played["cpu_s"] / seconds
    recorder_cores = played["recorder_cpu_s"] / seconds
    machine_cores = played["machine_cpu_s"] / seconds
    input_bound = player_cores + max(node_cores - stage_s * out_hz, 0.0)
    per_output_s = stage_s + (recorder_cores / out_hz if out_hz > 0 else 0.0)
    return {"cores": cores, "machine_cores": machine_cores,
            "node_cores": node_cores, "player_cores": player_cores,
            "recorder_cores": recorder_cores, "input_cores": input_bound,
            "stage_cpu_p50_ms": stage_cpu_ms,
            "max_hz_slowest_stage": 1000.0 / float(np.max(stage_cpu_ms)),
            "max_hz_cores": (cores - input_bound) / per_output_s if per_output_s > 0
            else float("nan")}


# --- direct mode ------------------------------------------------------------------------------
def direct_throughput(bag: str, model: Path, frames: int) -> dict:
    """Frames per second through the pipeline in this process: serial (torch and ONNX Runtime
    at their default threads, as before) vs the three stages at one thread each."""
    import torch

    from sgnet_ros.bags.io import DEFAULT_TOPICS, read_messages
    from sgnet_ros.pipeline.inference import ProviderOptions
    from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline
    from sgnet_ros.pipeline.staged import StagedWorker
    from sgnet_ros.ros.messages import decode_color, decode_depth

    topics = DEFAULT_TOPICS
    messages: dict[str, list] = {topics.rgb: [], topics.depth: [], topics.camera_info: []}
    for message in read_messages(bag, list(messages)):
        messages[message.topic].append(message.decode())
    count = min(len(m) for m in messages.values())
    inputs = [(decode_color(messages[topics.rgb][i]), decode_depth(messages[topics.depth][i]),
               np.asarray(messages[topics.camera_info][i].k, dtype=float).reshape(3, 3))
              for i in range(count)]
    default_threads = torch.get_num_threads()

    def pipeline(threads: int) -> SegmentationPipeline:
        config = PipelineConfig(providers=ProviderOptions(order=("cpu",), threads=threads),
                                device="cpu")
        built = SegmentationPipeline.from_model_path(model, config)
        for rgb, depth, K in inputs[:2]:
            built.process(rgb, depth, K)
        return built

    serial = pipeline(0)
    torch.set_num_threads(default_threads)
    started = time.perf_counter()
    for index in range(frames):
        rgb, depth, K = inputs[index % count]
        serial.process(rgb, depth, K, cloud_classes=range(serial.contract.num_classes))
    serial_hz = frames / (time.perf_counter() - started)

    staged = pipeline(1)
    torch.set_num_threads(1)
    classes = range(staged.contract.num_classes)
    unloaded = unloaded_stages(staged, inputs, frames)
    worker = StagedWorker(
        [("decode", lambda item: staged.encode(*item)),
         ("inference", lambda frame: (frame, staged.infer(frame))),
         ("outputs", lambda pair: staged.finish(*pair, cloud_classes=classes))],
        on_superseded=lambda stage: None,
        thread_setup=lambda stage: torch.set_num_threads(1))
    started = time.perf_counter()
    for index in range(frames):
        worker.submit(inputs[index % count], wait=True)
    worker.wait_idle()
    pipelined_hz = frames / (time.perf_counter() - started)
    worker.stop()
    torch.set_num_threads(default_threads)
    return {"frames": frames, "serial_hz": serial_hz, "pipelined_hz": pipelined_hz,
            "speedup": pipelined_hz / serial_hz, "unloaded": unloaded}


def unloaded_stages(pipeline, inputs: list, frames: int) -> dict:
    """One frame at a time through the three stages on this thread (1 torch and ONNX Runtime
    thread, no cloud): p50 wall and CPU ms per stage and of the whole frame. The whole
    frame's wall time is the least stamp->publish latency the stages allow, before any
    transport."""
    wall: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "frame")}
    cpu: dict[str, list[float]] = {stage: [] for stage in STAGES}
    works = (lambda inputs: pipeline.encode(*inputs),
             lambda frame: (frame, pipeline.infer(frame)),
             lambda pair: pipeline.finish(*pair, organized_cloud=False, overlay=False,
                                          confidence=False))
    for index in range(frames):
        rgb, depth, K = inputs[index % len(inputs)]
        frame_start = time.perf_counter()
        item = (rgb, depth, K)
        for stage, work in zip(STAGES, works, strict=True):
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            item = work(item)
            cpu[stage].append((time.process_time() - cpu_start) * 1000.0)
            wall[stage].append((time.perf_counter() - wall_start) * 1000.0)
        wall["frame"].append((time.perf_counter() - frame_start) * 1000.0)
    return {"wall_p50_ms": {k: float(np.median(v)) for k, v in wall.items()},
            "cpu_p50_ms": {k: float(np.median(v)) for k, v in cpu.items()}}


# --- report ---------------------------------------------------------------------------------
def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def _stage_cpu(row: dict) -> str:
    return " / ".join(f"{ms:.0f}" for ms in row["cpu"]["stage_cpu_p50_ms"])


def _cores(row: dict) -> str:
    cpu = row["cpu"]
    return (f"{cpu['node_cores']:.2f} / {cpu['player_cores']:.2f} / "
            f"{cpu['recorder_cores']:.2f} / {cpu['machine_cores']:.2f}")


def markdown(result: dict) -> str:
    """The README section: hardware, the ROS table, the direct row, the floor and the
    thread-budget sweep, and the targets."""
    lines = [f"Hardware: {result['hardware']}; {result['date']}; model {result['model']}; "
             f"{result['duration_s']:.0f} s of the sample bag's 640x480 frames looped at "
             f"{result['rate_hz']:.0f} Hz per configuration (unless named), stamps rewritten to "
             f"the publish time, the first {result['settle_s']:.0f} s left out; all rows from one "
             f"run (`python -m sgnet_ros.benchmarks.latency_benchmark`); 1-minute load average "
             f"{result['load_average'][0]:.1f} before, {result['load_average'][1]:.1f} after "
             "(player, recorder and any other work on the machine share its cores). Compressed "
             "input: the same frames as jpeg `compressed` colour and png `compressedDepth` "
             "depth. Stage CPU: the node's stage threads, p50 ms per frame; cores: CPU seconds "
             "per second of playing of node / player / recorder, and of the whole machine (all its "
             "processes, other work included), all four over the same window.", "",
             "| configuration | out Hz | stamp->subscriber p50 ms | p95 | p99 | max | "
             "transport in p50 | queue waits p50 | stage spatial / inference / outputs p50 | "
             "stamp->publish p50 | stage CPU decode / inference / outputs p50 | "
             "cores node / player / recorder / machine |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|---|"]
    for row in result["rows"]:
        if row.get("sweep"):
            continue
        s = row["segments_p50_ms"]
        waits = ", ".join(f"{stage} {s[f'queue {stage}']:.1f}" for stage in
                          (*STAGES, "serial") if not np.isnan(s[f"queue {stage}"]))
        lines.append(
            f"| {row['configuration']} | {row['rate_hz']:.1f} | {row['p50_ms']:.0f} | "
            f"{row['p95_ms']:.0f} | {row['p99_ms']:.0f} | {row['max_ms']:.0f} | "
            f"{s['latency stamp->receipt']:.1f} | {waits} | {s['stage spatial']:.0f} / "
            f"{s['stage inference']:.0f} / {s['stage outputs']:.0f} | "
            f"{s['latency stamp->publish']:.0f} | {_stage_cpu(row)} | {_cores(row)} |")
    direct = result["direct"]
    lines += ["", f"Direct mode ({direct['frames']} frames in one process, every class cloud "
              f"built): serial {direct['serial_hz']:.1f} Hz, pipelined "
              f"{direct['pipelined_hz']:.1f} Hz, {direct['speedup']:.2f}x."]
    best = next((r for r in result["rows"] if r["pipelined"] and r["transport"] == "configured"
                 and not r["cloud_subscriber"] and not r.get("compressed")
                 and not r.get("sweep") and not r.get("input_hz")), None)
    if best is None:
        return "\n".join(lines)
    lines += floor_lines(result, best) + sweep_table(result, best)
    lines += ["", "Targets (pipelined node, configured transport, no cloud subscriber):", "",
        f"- output >= 25 Hz for 30 Hz input -> {best['rate_hz']:.1f} Hz "
        f"({_met(best['rate_hz'] >= TARGETS['rate_hz'])})",
        f"- stamp->subscriber p50 <= 80 ms -> {best['p50_ms']:.0f} ms "
        f"({_met(best['p50_ms'] <= TARGETS['p50_ms'])})",
        f"- p95 <= 120 ms -> {best['p95_ms']:.0f} ms ({_met(best['p95_ms'] <= TARGETS['p95_ms'])})",
        f"- no frame later than 250 ms -> max {best['max_ms']:.0f} ms "
        f"({_met(best['max_ms'] <= TARGETS['max_ms'])})",
        f"- direct-mode throughput >= 1.6x serial -> {direct['speedup']:.2f}x "
        f"({_met(direct['speedup'] >= TARGETS['direct_speedup'])})"]
    return "\n".join(lines)


def floor_lines(result: dict, best: dict) -> list[str]:
    """The measured floor of the target row: what the stages and the cores allow."""
    cpu, unloaded = best["cpu"], result["direct"]["unloaded"]
    walls, cpus = unloaded["wall_p50_ms"], unloaded["cpu_p50_ms"]
    stage_cpu = cpu["stage_cpu_p50_ms"]
    slowest = max(zip(stage_cpu, STAGES if len(stage_cpu) == len(STAGES) else ("serial",),
                      strict=True))
    lines = ["", "Floor of the pipelined node, configured transport (from the rows above):", "",
             f"- slowest stage: {slowest[1]} at {slowest[0]:.0f} ms CPU per frame under load "
             f"-> at most {cpu['max_hz_slowest_stage']:.1f} Hz",
             f"- cores: node {cpu['node_cores']:.2f} + player {cpu['player_cores']:.2f} + "
             f"recorder {cpu['recorder_cores']:.2f} (machine {cpu['machine_cores']:.2f}) of "
             f"{cpu['cores']} cores busy; what the work at the input rate (player, node "
             f"outside its stages: {cpu['input_cores']:.2f} cores) leaves for the stages "
             f"({sum(cpu['stage_cpu_p50_ms']):.0f} ms CPU per frame) and the recorder -> at "
             f"most {cpu['max_hz_cores']:.1f} Hz",
             f"- unloaded, one frame at a time in one process: decode {walls['decode']:.0f} / "
             f"inference {walls['inference']:.0f} / outputs {walls['outputs']:.0f} ms wall "
             f"(CPU {cpus['decode']:.0f} / {cpus['inference']:.0f} / {cpus['outputs']:.0f}), "
             f"{walls['frame']:.0f} ms a frame before any transport"]
    unloaded_row = next((r for r in result["rows"] if r.get("input_hz")), None)
    if unloaded_row is not None:
        lines.append(f"- unloaded through ROS ({unloaded_row['input_hz']:.0f} Hz input): "
                     f"stamp->subscriber p50 {unloaded_row['p50_ms']:.0f} ms, p95 "
                     f"{unloaded_row['p95_ms']:.0f} ms: the p50 floor with both transports")
    return lines


def sweep_table(result: dict, best: dict) -> list[str]:
    """threads.torch x threads.onnx for the pipelined node, configured transport."""
    rows = [best, *(r for r in result["rows"] if r.get("sweep"))]
    if len(rows) == 1:
        return []
    lines = ["", "Thread budget (pipelined node, configured transport, same run):", "",
             "| threads.torch | threads.onnx | out Hz | p50 ms | p95 | max | "
             "stage CPU decode / inference / outputs p50 | cores node |",
             "|---:|---:|---:|---:|---:|---:|---|---:|"]
    for row in rows:
        torch_threads, onnx_threads = row.get("threads") or (1, 1)
        lines.append(f"| {torch_threads} | {onnx_threads} | {row['rate_hz']:.1f} | "
                     f"{row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['max_ms']:.0f} | "
                     f"{_stage_cpu(row)} | {row['cpu']['node_cores']:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    from sgnet_ros.bags.demo import sample_bag_path
    from sgnet_ros.pipeline.pipeline import default_model_path

    parser = argparse.ArgumentParser(prog="sgnet-bench-latency",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("bench", "play", "record"), default="bench")
    parser.add_argument("--bag", default=str(sample_bag_path()))
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per row")
    parser.add_argument("--rate", type=float, default=30.0, help="input rate (Hz)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds left out at the start of each row")
    parser.add_argument("--configurations", nargs="*", type=int, default=None,
                        help="row indices to run (default: all)")
    parser.add_argument("--direct-frames", type=int, default=60)
    parser.add_argument("--cloud-subscriber", action="store_true")
    parser.add_argument("--compressed", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/benchmark"))
    parser.add_argument("--readme", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.role == "play":
        _play(args.bag, args.rate, args.duration, args.compressed)
        return 0
    if args.role == "record":
        _record(args.cloud_subscriber)
        return 0
    model = args.model or default_model_path()
    chosen = [CONFIGURATIONS[i] for i in (args.configurations
                                          or range(len(CONFIGURATIONS)))]
    load_before = os.getloadavg()[0]
    zombies_before = zombie_names()  # what a killed child leaves is reported at the end
    rows = []
    for config in chosen:
        row = run_configuration(config, args.bag, model, args.duration, args.rate,
                                args.settle, args.out / "latency_logs")
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {"hardware": hardware(), "date": time.strftime("%Y-%m-%d"), "model": model.name,
              "duration_s": args.duration, "rate_hz": args.rate, "settle_s": args.settle,
              "rows": rows, "direct": direct_throughput(args.bag, model, args.direct_frames)}
    result["load_average"] = [load_before, os.getloadavg()[0]]
    print(clean_shared_memory(present_before=zombies_before).line(), flush=True)
    table = markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latency.json").write_text(json.dumps(result, indent=1))
    (args.out / "latency.md").write_text(table + "\n")
    print(table)
    if args.readme:
        replace_section(args.readme, "latency", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
