"""Gravity and camera height from TF, for HHA on a robot whose "down" is known.

REP 103/105: a robot's base_link (or base_footprint) has z up and sits on the floor, so
gravity in the camera's optical frame is that frame's -z rotated into the camera, and the
camera's height is the z of the optical frame's origin in it, both looked up at the image
stamp. tf2_ros does this where it is importable (a robot's system ROS). The ROS 2 wheels on
PyPI have no tf2_ros; there a small transform tree fed from /tf and /tf_static does the
same lookups (interpolating dynamic transforms, refusing to extrapolate, as tf2 does). The
one maintained pure-Python tree found (pytransform3d's TemporalTransformManager) drags in
matplotlib and lxml and knows nothing of static transforms, so it is not used.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sgnet_ros.ros.parameters import ParameterError

DYNAMIC_CACHE_S = 10.0  # as tf2's default buffer length
UP = np.array([0.0, 0.0, 1.0])


class TransformUnavailableError(LookupError):
    """No transform between two frames at a stamp; the message says which and why."""


def rotation_matrix(quaternion_xyzw: np.ndarray) -> np.ndarray:
    """3x3 rotation of a (x, y, z, w) quaternion, normalised first."""
    x, y, z, w = np.asarray(quaternion_xyzw, dtype=np.float64) / np.linalg.norm(quaternion_xyzw)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def slerp(q0: np.ndarray, q1: np.ndarray, fraction: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions along the shorter arc."""
    q0, q1 = q0 / np.linalg.norm(q0), q1 / np.linalg.norm(q1)
    dot = float(q0 @ q1)
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        blended = q0 + fraction * (q1 - q0)
        return blended / np.linalg.norm(blended)
    angle = np.arccos(dot)
    return (np.sin((1 - fraction) * angle) * q0 + np.sin(fraction * angle) * q1) / np.sin(angle)


@dataclass(frozen=True)
class Edge:
    """parent <- child at one stamp: p_parent = rotation @ p_child + translation."""

    parent: str
    stamp_ns: int
    translation: np.ndarray
    quaternion: np.ndarray  # x, y, z, w


class TransformTree:
    """A minimal tf buffer: per child frame, its static edge or a time window of edges."""

    def __init__(self, cache_s: float = DYNAMIC_CACHE_S) -> None:
        self._static: dict[str, Edge] = {}
        self._dynamic: dict[str, list[Edge]] = {}
        self._cache_ns = int(cache_s * 1e9)

    def add(self, child: str, edge: Edge, static: bool) -> None:
        if static:
            self._static[child] = edge
            return
        history = self._dynamic.setdefault(child, [])
        stamps = [e.stamp_ns for e in history]
        index = bisect.bisect_left(stamps, edge.stamp_ns)
        if index < len(history) and history[index].stamp_ns == edge.stamp_ns:
            history[index] = edge
        else:
            history.insert(index, edge)
        newest = history[-1].stamp_ns
        while history and history[0].stamp_ns < newest - self._cache_ns:
            history.pop(0)

    def _edge(self, child: str, stamp_ns: int) -> Edge | None:
        if child in self._static:
            return self._static[child]
        history = self._dynamic.get(child)
        if not history:
            return None
        if stamp_ns == 0:  # tf2's Time(0): the latest available
            return history[-1]
        stamps = [e.stamp_ns for e in history]
        index = bisect.bisect_left(stamps, stamp_ns)
        if index < len(history) and stamps[index] == stamp_ns:
            return history[index]
        if index == 0 or index == len(history):
            raise TransformUnavailableError(
                f"'{history[0].parent}' -> '{child}' is known from {stamps[0] / 1e9:.3f} to "
                f"{stamps[-1] / 1e9:.3f} s, not at {stamp_ns / 1e9:.3f} s (no extrapolation)")
        before, after = history[index - 1], history[index]
        fraction = (stamp_ns - before.stamp_ns) / (after.stamp_ns - before.stamp_ns)
        return Edge(before.parent, stamp_ns,
                    before.translation + fraction * (after.translation - before.translation),
                    slerp(before.quaternion, after.quaternion, fraction))

    def _to_root(self, frame: str, stamp_ns: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """[(frame, R, t)] with p_root = R @ p_frame + t, from `frame` up to its root."""
        chain = [(frame, np.eye(3), np.zeros(3))]
        rotation, translation = np.eye(3), np.zeros(3)
        while (edge := self._edge(chain[-1][0], stamp_ns)) is not None:
            if any(name == edge.parent for name, _, _ in chain):
                raise TransformUnavailableError(f"TF has a loop through '{edge.parent}'")
            edge_rotation = rotation_matrix(edge.quaternion)
            # p_parent = Re p_child + te, and p_child = R p_frame + t (R, t: frame -> child).
            rotation, translation = edge_rotation @ rotation, \
                edge_rotation @ translation + edge.translation
            chain.append((edge.parent, rotation, translation))
        return chain

    def lookup(self, target: str, source: str, stamp_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) with p_target = R @ p_source + t at `stamp_ns` (0: the latest)."""
        source_chain = self._to_root(source, stamp_ns)
        target_chain = {name: (r, t) for name, r, t in self._to_root(target, stamp_ns)}
        for name, source_rotation, source_translation in source_chain:
            if name in target_chain:
                target_rotation, target_translation = target_chain[name]
                # p_common = Rs p_source + ts = Rt p_target + tt.
                rotation = target_rotation.T @ source_rotation
                return rotation, target_rotation.T @ (source_translation - target_translation)
        raise TransformUnavailableError(f"'{source}' and '{target}' are not connected in TF")


def _edge_of(transform: Any) -> tuple[str, Edge]:
    """geometry_msgs/TransformStamped -> (child frame, Edge)."""
    stamp = transform.header.stamp
    t, q = transform.transform.translation, transform.transform.rotation
    return transform.child_frame_id.lstrip("/"), Edge(
        transform.header.frame_id.lstrip("/"), int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec),
        np.array([t.x, t.y, t.z]), np.array([q.x, q.y, q.z, q.w]))


class TopicTransformBuffer:
    """Fills a TransformTree from /tf and /tf_static on a node; lookups wait for data."""

    def __init__(self, node: Any, message_type: type) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

        self._tree = TransformTree()
        self._changed = threading.Condition()
        dynamic = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        static = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(message_type, "/tf", lambda m: self._add(m, False), dynamic)
        node.create_subscription(message_type, "/tf_static", lambda m: self._add(m, True), static)

    def _add(self, message: Any, static: bool) -> None:
        with self._changed:
            for transform in message.transforms:
                child, edge = _edge_of(transform)
                self._tree.add(child, edge, static)
            self._changed.notify_all()

    def lookup(self, target: str, source: str, stamp_ns: int,
               timeout_s: float) -> tuple[np.ndarray, np.ndarray]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                try:
                    return self._tree.lookup(target, source, stamp_ns)
                except TransformUnavailableError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    self._changed.wait(left)


class Tf2Buffer:
    """tf2_ros's Buffer and TransformListener, where a system ROS provides them."""

    def __init__(self, node: Any, tf2_ros: Any) -> None:
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node)
        self._errors = tf2_ros.TransformException

    def lookup(self, target: str, source: str, stamp_ns: int,
               timeout_s: float) -> tuple[np.ndarray, np.ndarray]:
        from rclpy.duration import Duration
        from rclpy.time import Time

        try:
            stamped = self._buffer.lookup_transform(target, source, Time(nanoseconds=stamp_ns),
                                                    Duration(nanoseconds=int(timeout_s * 1e9)))
        except self._errors as error:
            raise TransformUnavailableError(str(error)) from error
        _, edge = _edge_of(stamped)
        return rotation_matrix(edge.quaternion), edge.translation


def transform_buffer(node: Any) -> Tf2Buffer | TopicTransformBuffer:
    """tf2_ros where importable, else the /tf topics through tf2_msgs; or a clear refusal."""
    try:
        import tf2_ros
    except ImportError:
        tf2_ros = None
    if tf2_ros is not None:
        return Tf2Buffer(node, tf2_ros)
    try:
        from tf2_msgs.msg import TFMessage
    except ImportError:
        raise ParameterError(
            "hha.gravity_source or hha.height_mode is 'tf' but neither tf2_ros nor tf2_msgs is "
            "importable; install ros-$ROS_DISTRO-tf2-ros, or with the PyPI wheels build "
            "tf2_msgs with tools/build_test_interfaces.sh") from None
    return TopicTransformBuffer(node, TFMessage)


class GravityFromTf:
    """Per image: gravity (down, optical frame) and camera height, or None to fall back."""

    def __init__(self, buffer: Any, gravity_frame: str, timeout_s: float, want_gravity: bool,
                 want_height: bool, warn: Callable[[str, str], None]) -> None:
        self._buffer = buffer
        self.gravity_frame = gravity_frame
        self._timeout_s = timeout_s
        self._want = (want_gravity, want_height)
        self._warn = warn
        self.fallbacks = 0
        self.gravity: np.ndarray | None = None
        self.height_m: float | None = None

    def for_image(self, camera_frame: str, stamp_ns: int) -> tuple[np.ndarray | None,
                                                                   float | None]:
        """This image's (gravity, camera height) from TF; (None, None) counted and logged."""
        try:
            if not camera_frame:
                raise TransformUnavailableError("the colour image has an empty frame_id")
            rotation, translation = self._buffer.lookup(
                camera_frame, self.gravity_frame, stamp_ns, self._timeout_s)
        except TransformUnavailableError as error:
            self.fallbacks += 1
            self.gravity = self.height_m = None
            self._warn(f"tf {camera_frame}", (
                f"no transform '{self.gravity_frame}' -> '{camera_frame}' at the image stamp "
                f"within hha.tf_timeout={self._timeout_s} s ({error}); HHA falls back to the "
                "estimated gravity and the lowest-point floor"))
            return None, None
        gravity = rotation @ -UP  # the gravity frame's -z, in the optical frame
        height = float(-(rotation.T @ translation)[2])  # the camera origin, in the gravity frame
        self.gravity, self.height_m = gravity, height
        return (gravity if self._want[0] else None), (height if self._want[1] else None)

    def diagnostics(self) -> dict[str, Any]:
        gravity = "none (fallback)" if self.gravity is None else \
            " ".join(f"{value:.3f}" for value in self.gravity)
        return {"tf gravity (optical frame)": gravity,
                "tf camera height (m)": "none (fallback)" if self.height_m is None
                else f"{self.height_m:.3f}",
                "tf fallbacks": self.fallbacks}


def gravity_from_settings(node: Any, settings: dict[str, Any], spatial_mode: str,
                          warn: Callable[[str, str], None]) -> GravityFromTf | None:
    """The TF lookups behind hha.gravity_source / hha.height_mode 'tf', for an HHA model."""
    want = (settings["hha.gravity_source"] == "tf", settings["hha.height_mode"] == "tf")
    if not any(want):
        return None
    if spatial_mode != "hha":
        node.get_logger().warning(
            "hha.gravity_source / hha.height_mode 'tf' have no effect: the model's spatial "
            f"input is {spatial_mode}, not hha")
        return None
    return GravityFromTf(transform_buffer(node), settings["hha.gravity_frame"],
                         settings["hha.tf_timeout"], *want, warn=warn)
