"""The rclpy node: a thin shell that moves messages in and out of the segmentation pipeline.

Callbacks only queue messages in the synchroniser; the newest synced set waits in a
single slot for the worker thread, so processing never blocks the executor and a slow
frame can only make newer frames replace older ones (each replacement counted).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from sgnet_ros.pipeline.codec import ImageDecodeError, encode_image
from sgnet_ros.pipeline.geometry import FrameError
from sgnet_ros.pipeline.inference import PROVIDERS, ModelLoadError
from sgnet_ros.pipeline.memory import MemoryReleaser
from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline
from sgnet_ros.pipeline.spatial.encoding import spatial_image
from sgnet_ros.pipeline.sync import NewestSynchronizer
from sgnet_ros.ros.frame_checks import FrameChecks
from sgnet_ros.ros.frame_stages import FrameJob, FrameStages, apply_thread_budget
from sgnet_ros.ros.input_watch import InputWatch
from sgnet_ros.ros.messages import (
    label_info_json,
    label_info_msg,
    rclpy_classes,
    stamp_ns,
    vision_label_info_classes,
)
from sgnet_ros.ros.parameters import (
    NODE_NAME,
    SCHEMA,
    ParameterError,
    check_parameter_files,
    cloud_class_ids,
    unknown_parameters_message,
    validate,
)
from sgnet_ros.ros.shutdown import ShutdownRequest, exit_promptly, spin_until_shutdown
from sgnet_ros.ros.stats import NodeStats, percentiles
from sgnet_ros.ros.tf_gravity import gravity_from_settings
from sgnet_ros.ros.transports import InputTopic, candidate_topics, mismatch, publisher_types

RGB, DEPTH, INFO = "rgb/image_rect_color", "depth_registered/image_rect", "rgb/camera_info"
LOG_THROTTLE_S = 5.0


def declare_parameters(node: Node) -> dict[str, Any]:
    """Declare the schema on the node (with descriptions) and return the validated values.

    dynamic_typing lets `1` stand for `1.0` in a YAML file; the schema then checks type and
    range itself so every refusal reads the same: parameter, value and what is allowed.
    """
    values = {}
    for spec in SCHEMA:
        descriptor = ParameterDescriptor(
            name=spec.name, description=spec.description, read_only=True,
            additional_constraints=spec.allowed, dynamic_typing=True)
        default = spec.default
        parameter = node.declare_parameter(spec.name, default, descriptor)
        values[spec.name] = parameter.value
    unknown = undeclared_overrides(node)
    if unknown:
        raise ParameterError(unknown_parameters_message(unknown))
    return validate(values)


def undeclared_overrides(node: Node) -> list[str]:
    """Overrides (params file, -p) that name no declared parameter: typos rclpy ignores.

    rclpy keeps a node's overrides in `_parameter_overrides` (no public accessor); rclpy's
    own `qos_overrides.*` are declared only when a publisher asks for them.
    """
    overrides = getattr(node, "_parameter_overrides", {})
    return sorted(name for name in overrides if not node.has_parameter(name)
                  and not name.startswith("qos_overrides."))


@contextmanager
def heartbeat(logger, step: str, period_s: float = 10.0) -> Iterator[None]:
    """Log every `period_s` while a start-up step runs (a TensorRT engine build takes
    minutes), so a quiet start is never mistaken for a hang."""
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(period_s):
            logger.info(f"{step}: still running after {time.monotonic() - started:.0f} s")

    thread = threading.Thread(target=beat, name="sgnet_heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def qos(reliability: str, depth: int, latched: bool = False) -> QoSProfile:
    """A keep-last QoS profile from the parameter words."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort"
        else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


class SegmentationNode(Node):
    """Subscribes to RGB + registered depth + camera_info and publishes the segmentation."""

    def __init__(self) -> None:
        started = time.perf_counter()
        super().__init__(NODE_NAME)
        self.settings = declare_parameters(self)
        self._load()
        self._make_interfaces()
        self._start_worker()
        self._log_ready("ready", started)

    # --- set-up -------------------------------------------------------------------------
    def _load(self) -> None:
        """Everything that needs no topic: model, state, warm-up (a lifecycle `configure`)."""
        apply_thread_budget(self.settings["threads.torch"])
        with heartbeat(self.get_logger(), "loading the model"):
            self.pipeline = SegmentationPipeline.from_model_path(
                self.settings["model_path"] or None, PipelineConfig.from_settings(self.settings))
        self.cloud_ids = cloud_class_ids(self.settings["cloud_classes"],
                                         self.pipeline.contract.class_names)
        self.stats = NodeStats()
        self._msgs = rclpy_classes()
        self._log_times: dict[str, float] = {}
        self.frames = FrameChecks(self.settings, self._warn, self.get_logger().info,
                                  self.resolve_topic_name)
        self.gravity_from_tf = gravity_from_settings(
            self, self.settings, self.pipeline.contract.spatial_mode, self._warn)
        self._sync_lock = threading.Lock()
        self._sync = NewestSynchronizer(
            (RGB, DEPTH, INFO), queue_size=self.settings["sync.queue_size"],
            slop_s=self.settings["sync.slop"], policy=self.settings["sync.policy"])
        self.cpu_fallback = Counter()
        self._input_watch = InputWatch(
            {s: self.resolve_topic_name(s) for s in (RGB, DEPTH, INFO)}, RGB,
            slop_s=self.settings["sync.slop"], stale_s=self.settings["sync.stale_warning"])
        for note in self.pipeline.notes:
            self.get_logger().info(note)
        for warning in self.pipeline.warnings:
            self.get_logger().warning(warning)
        if self.settings["warmup"]:
            self._warm_up()

    def _start_worker(self) -> None:
        self._memory = MemoryReleaser()
        self._worker = FrameStages(self, RGB, DEPTH, INFO).worker(
            self.settings["pipelined"], self.settings["threads.torch"])

    def _log_ready(self, what: str, started: float) -> None:
        contract = self.pipeline.contract
        self.get_logger().info(
            f"{what} in {time.perf_counter() - started:.1f} s: model "
            f"{self.pipeline.segmenter.model_path.name} ({contract.variant or 'unknown variant'}, "
            f"{contract.num_classes} classes, {contract.spatial_mode} input "
            f"{contract.input_size[1]}x{contract.input_size[0]}), ONNX Runtime on "
            f"{self.pipeline.segmenter.report.primary}, torch on {self.pipeline.device}")

    def _make_interfaces(self) -> None:
        settings = self.settings
        inputs = qos(settings["input_qos"], settings["input_depth"])
        outputs = qos(settings["output_qos"], settings["output_depth"])
        self._image_inputs = [
            InputTopic("transport.rgb", self.resolve_topic_name(RGB), settings["transport.rgb"]),
            InputTopic("transport.depth", self.resolve_topic_name(DEPTH),
                       settings["transport.depth"])]
        self._type_mismatches: dict[str, str] = {}
        for stream, cls, topic in (
                (RGB, CompressedImage if settings["transport.rgb"] != "raw" else Image,
                 self._image_inputs[0].topic),
                (DEPTH, CompressedImage if settings["transport.depth"] != "raw" else Image,
                 self._image_inputs[1].topic),
                (INFO, CameraInfo, INFO)):
            self.create_subscription(
                cls, topic, lambda m, s=stream: self._on_message(s, m), inputs,
                event_callbacks=SubscriptionEventCallbacks(
                    incompatible_qos=lambda event, s=stream: self._on_incompatible_input(s),
                    message_lost=lambda event, s=stream: self._on_lost(s, event)))
        msgs = self._msgs

        def publisher(cls, topic: str):
            events = PublisherEventCallbacks(
                incompatible_qos=lambda event, t=topic: self._on_incompatible_output(t))
            return self.create_publisher(cls, topic, outputs, event_callbacks=events)

        self.label_pub = publisher(msgs.image, "segmentation/image")
        self.info_pub = publisher(msgs.camera_info, "segmentation/camera_info")
        self.color_pub = publisher(msgs.image, "segmentation/color")
        self.confidence_pub = publisher(msgs.image, "segmentation/confidence") \
            if settings["publish_confidence"] else None
        self.points_pub = publisher(msgs.point_cloud, "points") \
            if settings["publish_points"] else None
        self.spatial_pub = publisher(msgs.image, "segmentation/spatial") \
            if settings["publish_spatial"] else None
        topics = self.pipeline.outputs.class_topics
        self.class_pubs = {class_id: publisher(msgs.point_cloud, f"points/{topics[class_id]}")
                           for class_id in self.cloud_ids}
        self._publish_label_info()
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # Wall-clock timers: under sim time without /clock they still run (and report it).
        wall_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(settings["diagnostics_period"], self._publish_diagnostics,
                          clock=wall_clock)
        self.create_timer(1.0, self._watch_inputs, clock=wall_clock)

    def _on_incompatible_input(self, stream: str) -> None:
        other = "reliable" if self.settings["input_qos"] == "best_effort" else "best_effort"
        self._warn(f"qos {stream}", f"{self.resolve_topic_name(stream)}: the publisher's QoS is "
                   f"incompatible with input_qos={self.settings['input_qos']}, nothing will "
                   f"arrive; set input_qos: {other}")

    def _on_incompatible_output(self, topic: str) -> None:
        self._warn(f"qos {topic}", f"{self.resolve_topic_name(topic)}: a subscriber asks for "
                   f"more than output_qos={self.settings['output_qos']} offers and receives "
                   "nothing; set output_qos: reliable (or the subscriber to best effort)")

    def _check_input_types(self) -> None:
        """Name an image input that DDS will never match: its topic carries another type."""
        graph = publisher_types(self, candidate_topics(self._image_inputs))
        for entry in self._image_inputs:
            problem = mismatch(entry, graph)
            if problem is None:
                self._type_mismatches.pop(entry.parameter, None)
                continue
            self._type_mismatches[entry.parameter] = problem
            self._warn(f"type {entry.parameter}", f"input type mismatch: {problem}")

    def _on_lost(self, stream: str, event) -> None:
        """DDS reports samples it dropped before the executor saw them; account for them."""
        self.stats.count_lost(stream, event.total_count_change)
        if stream == RGB:
            self.stats.count_drop("lost_in_transport", event.total_count_change)

    def _publish_label_info(self) -> None:
        """Latch the class map once: vision_msgs/LabelInfo, or JSON where that is absent."""
        chosen = self.settings["label_info_format"]
        vision = vision_label_info_classes() if chosen != "json" else None
        if chosen == "vision_msgs" and vision is None:
            raise ParameterError(
                "parameter 'label_info_format' is 'vision_msgs' but vision_msgs is not "
                "importable; install ros-$ROS_DISTRO-vision-msgs or set it to auto or json")
        latched = qos("reliable", 1, latched=True)
        if vision is None:
            self.label_info_pub = self.create_publisher(
                self._msgs.string, "segmentation/label_info", latched)
            self.label_info_pub.publish(self._msgs.string(data=self.label_info_json()))
            return
        self.label_info_pub = self.create_publisher(vision[0], "segmentation/label_info",
                                                    latched)
        header = Header(stamp=self.get_clock().now().to_msg())
        self.label_info_pub.publish(label_info_msg(
            vision, header, self.pipeline.class_names, self.pipeline.outputs.unlabeled))

    def label_info_json(self) -> str:
        """Class ids, names, colours and cloud topics as the latched label_info JSON."""
        return label_info_json(self.pipeline.outputs, self.pipeline.segmenter.model_path.name,
                               list(self.class_pubs))

    def _warm_up(self) -> None:
        """Two dummy frames of the camera's size (`warmup_size`) with every output the node
        builds: ORT and cuDNN/TensorRT prepare the network (IO binding learns the output
        shape on the first and binds a preallocated output from the second on), and the
        output buffers and pixel tables of that size exist, so the first camera frame runs at
        full speed (1280x960 on 2 cores: it took 325 ms after a VGA warm-up, 87 ms after one
        of its own size)."""
        started = time.perf_counter()
        report = self.pipeline.segmenter.report
        if report.primary == PROVIDERS["tensorrt"]:
            engines = sorted(report.tensorrt_cache.glob("*.engine"))
            self.get_logger().info(
                f"TensorRT: reusing {len(engines)} cached engine file(s) in "
                f"{report.tensorrt_cache}" if engines else
                "TensorRT: building the engine for this model; the first start takes minutes, "
                f"later ones reuse it from {report.tensorrt_cache}")
        width, height = self.settings["warmup_size"]
        rgb = np.zeros((height, width, 3), dtype=np.uint8)
        depth = np.full((height, width), 2.0, dtype=np.float32)
        focal = 0.82 * width
        K = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2],
                      [0.0, 0.0, 1.0]])
        with heartbeat(self.get_logger(), f"warm-up on {report.primary}"):
            for _ in range(2):
                self.pipeline.process(rgb, depth, K, cloud_classes=self.cloud_ids,
                                      organized_cloud=self.settings["publish_points"])
        self.pipeline.reset()
        self.get_logger().info(f"warm-up (2 frames of {width}x{height}) took "
                               f"{time.perf_counter() - started:.2f} s")
        self.cpu_fallback = self.pipeline.segmenter.cpu_fallback_ops()
        if self.cpu_fallback:
            self.get_logger().warning(
                f"{sum(self.cpu_fallback.values())} compute kernels run on the CPU inside "
                f"{self.pipeline.segmenter.report.primary} (ops: "
                f"{', '.join(sorted(self.cpu_fallback))}): each one copies tensors to the host")

    # --- input ----------------------------------------------------------------------------
    def _on_message(self, stream: str, msg: Any) -> None:
        self.stats.count_received(stream, (self.get_clock().now().nanoseconds - stamp_ns(
            msg.header)) / 1e6 if stream == RGB else None)
        self._input_watch.arrived(stream, stamp_ns(msg.header))
        with self._sync_lock:
            before = self._sync.stats.unsynced
            synced = self._sync.add(stream, stamp_ns(msg.header), msg)
            self.stats.count_drop("unsynced", self._sync.stats.unsynced - before)
        if synced is None:
            return
        self.stats.last_synced = time.monotonic()
        self._worker.submit(FrameJob(synced.items, time.perf_counter()))

    def _watch_inputs(self) -> None:
        """Log (throttled) which input keeps sets from syncing; diagnostics say it too."""
        problems = self._input_watch.problems(self.stats.last_synced)
        if problems:
            stale_s = time.monotonic() - self.stats.last_synced
            self._warn("missing input", f"no synced RGB-D set for {stale_s:.1f} s: "
                       + "; ".join(problems))

    # --- processing -------------------------------------------------------------------------
    def _warn(self, key: str, message: str) -> None:
        now = time.monotonic()
        if now - self._log_times.get(key, -LOG_THROTTLE_S) >= LOG_THROTTLE_S:
            self._log_times[key] = now
            self.get_logger().warning(message)

    def _decode(self, decoder, msg: Any, topic: str):
        try:
            return decoder(msg)
        except ImageDecodeError as error:
            reason = "bad_rgb" if topic == RGB else "bad_depth"
            raise FrameError(reason, f"{self.resolve_topic_name(topic)}: {error}") from error

    def _check_frames(self, rgb_msg: Any, depth_msg: Any) -> None:
        if stamp_ns(rgb_msg.header) == 0:
            self.stats.zero_stamps += 1
            self._warn("zero_stamp", f"{self.resolve_topic_name(RGB)} has a zero stamp; "
                       "processed, but latency and sync are meaningless for it")
        self.frames.check_headers(rgb_msg, depth_msg)

    def _publish(self, rgb_msg: Any, camera, result) -> None:
        header, out, msgs = rgb_msg.header, result.outputs, self._msgs
        label_encoding = "mono8" if out.labels.dtype.itemsize == 1 else "mono16"
        self.label_pub.publish(msgs.image_msg(header, encode_image(out.labels, label_encoding)))
        self.info_pub.publish(msgs.camera_model_msg(header, camera))
        if out.overlay is not None:
            self.color_pub.publish(msgs.image_msg(header, encode_image(out.overlay, "rgb8")))
        if self.confidence_pub is not None and out.confidence is not None:
            self.confidence_pub.publish(
                msgs.image_msg(header, encode_image(out.confidence, "32FC1")))
        if self.spatial_pub is not None and result.spatial is not None:
            self.spatial_pub.publish(msgs.image_msg(header, spatial_image(
                result.spatial, self.pipeline.contract.spatial_mode)))
        if self.points_pub is not None and out.points is not None:
            self.points_pub.publish(msgs.cloud_msg(header, out.points))
        for class_id, cloud in out.class_clouds.items():
            self.class_pubs[class_id].publish(msgs.cloud_msg(header, cloud))

    # --- diagnostics ------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        self._check_input_types()
        stats = self.stats
        status = DiagnosticStatus(name=f"{self.get_name()}: segmentation",
                                  hardware_id=self.pipeline.segmenter.model_path.name)
        status.level, status.message = DiagnosticStatus.OK, "segmenting"
        now = time.monotonic()
        flowing = all(now - stats.last_received.get(t, -1e9) < 1.5 for t in (RGB, DEPTH))
        stale_s = now - stats.last_synced
        problems = self._input_watch.problems(stats.last_synced)
        if problems:
            status.level = DiagnosticStatus.WARN
            status.message = f"no synced RGB-D set for {stale_s:.0f} s: " + "; ".join(problems)
        elif flowing and stale_s > self.settings["sync.stale_warning"]:
            status.level = DiagnosticStatus.WARN
            status.message = (
                f"no synced RGB-D set for {stale_s:.0f} s while colour and depth arrive: stamps "
                f"too far apart for sync.slop={self.settings['sync.slop']} s, camera_info "
                "missing on its topic, or topics from different cameras?")
        elif not stats.received[RGB]:
            status.level, status.message = DiagnosticStatus.WARN, "waiting for input"
        if self._waiting_for_clock():
            status.level = DiagnosticStatus.WARN
            status.message = "waiting for /clock (use_sim_time is true); " + status.message
        values = {
            **{f"rate {t} (Hz)": stats.rate(t, stats.received[t]) for t in (RGB, DEPTH, INFO)},
            "rate synced (Hz)": stats.rate("synced", self._sync.stats.synced),
            "rate processed (Hz)": stats.rate("processed", stats.processed),
            "frames received": stats.received[RGB], "frames synced": self._sync.stats.synced,
            "frames processed": stats.processed,
            "frames pending sync": self._sync.pending,
            "frames in pipeline": self._worker.in_flight,
            **{f"dropped {reason}": n for reason, n in sorted(stats.dropped.items())},
            "zero stamps": stats.zero_stamps, "sync resets": self._sync.stats.resets,
            "stamps on another clock": stats.foreign_clock_stamps,
            "class clouds built": self.pipeline.outputs.stats.clouds_built,
            "overlays built": self.pipeline.outputs.stats.overlays_built,
            "confidence images built": self.pipeline.outputs.stats.confidences_built,
            "provider": self.pipeline.segmenter.report.primary,
            "kernels falling back to CPU": sum(self.cpu_fallback.values()),
            "torch device": str(self.pipeline.device),
            **self.frames.diagnostics(),
            **(self.gravity_from_tf.diagnostics() if self.gravity_from_tf else {}),
            # a recorder starts playback only once this is "none": a sample written before
            # its publisher matched a subscriber never reaches that subscriber
            "outputs without subscribers": ", ".join(
                pub.topic_name for pub in self._output_publishers()
                if not pub.get_subscription_count()) or "none",
            **{f"input type mismatch {name}": line
               for name, line in self._type_mismatches.items()},
        }
        waits = {f"queue {stage}": tuple(percentiles(w))
                 for stage, w in self._worker.queue_waits().items()}
        waits.update({f"cpu {stage}": tuple(percentiles(t))
                      for stage, t in self._worker.stage_cpu().items()})
        for name, (p50, p95) in {**stats.latency_percentiles(), **waits}.items():
            values[f"{name} p50 (ms)"], values[f"{name} p95 (ms)"] = p50, p95
        if self.pipeline.device.type == "cuda":
            values["gpu memory (MiB)"] = torch.cuda.max_memory_allocated() / 2**20
        status.values = [KeyValue(key=k, value=f"{v:.2f}" if isinstance(v, float) else str(v))
                         for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def _output_publishers(self) -> list:
        return [pub for pub in (self.label_pub, self.info_pub, self.color_pub,
                                self.confidence_pub, self.points_pub, *self.class_pubs.values())
                if pub is not None]

    def _waiting_for_clock(self) -> bool:
        """Sim time with no /clock message yet: the ROS clock stands at zero."""
        return self.get_parameter("use_sim_time").value and \
            self.get_clock().now().nanoseconds == 0

    def stop(self) -> None:
        """Stop the worker and log the one-line account of the run.

        A frame in flight is not waited for beyond a moment: it is not published (see
        FrameStages.outputs), and the account must come within a second of the signal.
        """
        stopped = self._worker.stop(timeout_s=0.5)
        self.stats.count_drop("shutdown", self._worker.abandon_waiting())
        in_flight = "" if stopped else "; a frame in flight left unpublished"
        self.get_logger().info(f"summary: {self.stats.summary(RGB)}{in_flight}")


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def spin_until_interrupted(node: Node) -> None:
    """Spin until SIGINT/SIGTERM (or rclpy shutdown) and return at once, whatever the clock
    and the timers (sgnet_ros.ros.shutdown); the lifecycle node's entry point uses it too."""
    request = ShutdownRequest()
    request.install()
    spin_until_shutdown(node, request)


def main(args: list[str] | None = None) -> int:
    """Console entry point: exits non-zero with one clear line when start-up fails.

    SIGINT and SIGTERM are handled here rather than by rclpy, so the context is still valid
    for the final summary line and the shutdown prints no traceback.
    """
    logger = rclpy.logging.get_logger(NODE_NAME)
    try:
        check_parameter_files(sys.argv if args is None else args)
    except ParameterError as error:
        logger.fatal(f"cannot start: {error}")
        return 2
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        node = SegmentationNode()
    except (ParameterError, ModelLoadError) as error:
        logger.fatal(f"cannot start: {error}")
        rclpy.try_shutdown()
        return 2
    except KeyboardInterrupt:
        rclpy.try_shutdown()
        return 0
    try:
        spin_until_interrupted(node)
    except KeyboardInterrupt:  # a signal that came in before the handlers were replaced
        pass
    finally:
        node.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    exit_promptly(0)


if __name__ == "__main__":
    sys.exit(main())
