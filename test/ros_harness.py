"""A real segmentation node in its own process, driven from the test process over rclpy."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from sgnet_ros.bags.io import camera_info_message
from sgnet_ros.pipeline.codec import EncodedImage, encode_image
from sgnet_ros.ros.messages import rclpy_classes, stamp_ns

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "/cam"
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def start_node(*ros_args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The node as `ros2 run` starts it, in NAMESPACE, with the shipped parameter file."""
    command = [sys.executable, "-m", "sgnet_ros.ros.node", "--ros-args",
               "-r", f"__ns:={NAMESPACE}", "--params-file", str(ROOT / "config" / "sgnet.yaml"),
               "-p", "providers:=[cpu]", *ros_args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


@contextmanager
def running_node(*ros_args: str, outputs: Iterable[tuple] = (),
                 publisher_qos: QoSProfile = RELIABLE,
                 wait_for_inputs: bool = True) -> Iterator[Harness]:
    """A node process started with `ros_args` and a Harness subscribed to its `outputs`
    ((topic relative to NAMESPACE, message class[, QoS]) each), ready once the node
    subscribes to every input unless `wait_for_inputs` is off (a node on other transports).

    On exit both stop and the node's output is printed (pytest shows it for a failure) and
    kept as the harness's `node_output`.
    """
    node = start_node(*ros_args)
    harness = Harness(publisher_qos)
    try:
        for output in outputs:
            harness.subscribe(*output)
        if wait_for_inputs:
            assert harness.wait_for_node_inputs(), "the node never subscribed to its inputs"
        yield harness
    finally:
        harness.close()
        node.terminate()
        harness.node_output, _ = node.communicate(timeout=20)
        print(harness.node_output)


class SpinningNode:
    """An rclpy node of the test process, spun on a thread of its own, that keeps every
    message its subscriptions receive (with the monotonic time of arrival)."""

    default_timeout = 30.0

    def __init__(self, prefix: str = "sgnet_test") -> None:
        if not rclpy.ok():
            rclpy.init()
        self.node = rclpy.create_node(f"{prefix}_{time.monotonic_ns()}")
        self.received: dict[str, list] = defaultdict(list)
        self.arrivals: dict[str, list[float]] = defaultdict(list)  # monotonic, as received
        self._lock = threading.Lock()
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spinning = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._spinning:
            self.executor.spin_once(timeout_sec=0.05)

    def _keep(self, topic: str, cls, qos: QoSProfile) -> None:
        """Subscribe to the absolute `topic`, keeping each message and its arrival time."""
        def store(msg, topic=topic):
            with self._lock:
                self.received[topic].append(msg)
                self.arrivals[topic].append(time.monotonic())
        self.node.create_subscription(cls, topic, store, qos)

    def _kept(self, topic: str) -> list:
        with self._lock:
            return list(self.received[topic])

    def wait_for(self, predicate, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (self.default_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._spinning = False
        self._thread.join(timeout=2)
        self.executor.remove_node(self.node)
        self.node.destroy_node()


class Harness(SpinningNode):
    """Publishes camera frames to the node and collects what it publishes."""

    def __init__(self, publisher_qos: QoSProfile = RELIABLE) -> None:
        super().__init__()
        self.msgs = rclpy_classes()
        self.diagnostics: dict[str, str] = {}
        self.node_output = ""  # the node process's output, once `running_node` stopped it
        self.publishers = {
            name: self.node.create_publisher(cls, f"{NAMESPACE}/{name}", publisher_qos)
            for name, cls in (("rgb/image_rect_color", self.msgs.image),
                              ("depth_registered/image_rect", self.msgs.image),
                              ("rgb/camera_info", self.msgs.camera_info))}
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.logs: list[str] = []
        self.node.create_subscription(
            Log, "/rosout", lambda log: self.logs.append(log.msg),
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def _on_diagnostics(self, array) -> None:
        for status in array.status:
            if status.name.endswith(": segmentation"):
                with self._lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}

    def subscribe(self, relative: str, cls, qos: QoSProfile = RELIABLE) -> None:
        self._keep(f"{NAMESPACE}/{relative}", cls, qos)

    def arrival_times(self, relative: str) -> dict[int, float]:
        """{header stamp (ns): monotonic arrival time} of a topic's messages so far."""
        with self._lock:
            topic = f"{NAMESPACE}/{relative}"
            return {m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec: arrived
                    for m, arrived in zip(self.received[topic], self.arrivals[topic],
                                          strict=True)}

    def messages(self, relative: str) -> list:
        return self._kept(f"{NAMESPACE}/{relative}")

    def wait_for_node_inputs(self, timeout: float = 90.0) -> bool:
        """True once the node subscribes to every input and discovery has settled.

        A publisher can see its subscriber before the subscriber has matched the publisher;
        best-effort samples sent in between are lost, hence the settling second.
        """
        matched = self.wait_for(lambda: all(p.get_subscription_count()
                                            for p in self.publishers.values()), timeout)
        time.sleep(1.0)
        return matched

    def publish_frame(self, stamp: int, rgb: EncodedImage, depth: EncodedImage, K: np.ndarray,
                      info_size: tuple[int, int] | None = None, rgb_frame: str = "cam_optical",
                      depth_frame: str = "cam_optical", info_fields: dict | None = None) -> None:
        """Publish one (rgb, depth, camera_info) set with the given stamp (ns); info_fields
        replace camera_info fields (d, p, distortion_model...)."""
        from builtin_interfaces.msg import Time
        from std_msgs.msg import Header

        def header(frame_id: str) -> Header:
            return Header(stamp=Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
                          frame_id=frame_id)
        width, height = info_size or (rgb.width, rgb.height)
        info = camera_info_message(K, width, height, stamp, rgb_frame)
        info_msg = self.msgs.camera_info(
            header=header(rgb_frame), height=height, width=width,
            distortion_model=info.distortion_model, d=info.d.tolist(), k=info.k.tolist(),
            r=info.r.tolist(), p=info.p.tolist())
        for name, value in (info_fields or {}).items():
            setattr(info_msg, name, value)
        self.publishers["rgb/camera_info"].publish(info_msg)
        self.publishers["depth_registered/image_rect"].publish(
            self.msgs.image_msg(header(depth_frame), depth))
        self.publishers["rgb/image_rect_color"].publish(self.msgs.image_msg(header(rgb_frame), rgb))

    def stamps(self, relative: str) -> list[int]:
        return [stamp_ns(m.header) for m in self.messages(relative)]

def synthetic_frame(height: int = 240, width: int = 320) -> tuple[EncodedImage, EncodedImage,
                                                                  np.ndarray]:
    """A floor-and-wall RGB-D frame: rgb8, 16UC1 millimetres and its K."""
    rows = np.arange(height, dtype=np.float32)[:, None].repeat(width, axis=1)
    depth = np.where(rows > height / 2, 1.0 + 200.0 / np.maximum(rows - height / 2, 1.0), 3.0)
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[rows > height / 2] = (150, 120, 90)
    rgb[rows <= height / 2] = (200, 200, 190)
    K = np.array([[width * 0.82, 0, width / 2 - 0.5], [0, width * 0.82, height / 2 - 0.5],
                  [0, 0, 1.0]])
    millimetres = np.clip(depth * 1000, 0, 65535).astype(np.uint16)
    return encode_image(rgb, "rgb8"), encode_image(millimetres, "16UC1"), K
