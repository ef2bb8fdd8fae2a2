"""The node's work on one synced frame, as the stages of a `StagedWorker`.

decode (frame checks, decoding, spatial encoding) | inference | outputs (labels, overlay,
clouds, messages, publish). With `pipelined` each runs on a thread of its own and frames
overlap; without it one thread runs all three in turn (the serial design, kept for
comparison). Every stage ends a frame it cannot pass on with a named drop reason, so the
ledger received = processed + dropped + pending always balances.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from sgnet_ros.pipeline.geometry import FrameError
from sgnet_ros.pipeline.pipeline import EncodedFrame
from sgnet_ros.pipeline.staged import StagedWorker
from sgnet_ros.ros.messages import decode_color, decode_depth, stamp_ns

GIL_SWITCH_INTERVAL_S = 0.0005


@dataclass
class FrameJob:
    """One synced set on its way through the stages."""

    items: dict[str, Any]
    received: float  # perf_counter when the set was synced
    camera: Any = None
    frame: EncodedFrame | None = None
    network_output: torch.Tensor | None = None
    cloud_classes: tuple[int, ...] = ()
    organized_cloud: bool = False
    overlay: bool = True
    confidence: bool = False


def apply_thread_budget(torch_threads: int) -> None:
    """torch's intra-op threads for the whole process (0 = leave torch's own choice)."""
    if torch_threads > 0:
        torch.set_num_threads(torch_threads)


class FrameStages:
    """The node's three stages; `node` is the SegmentationNode (its checks, pipeline, stats)."""

    def __init__(self, node, rgb: str, depth: str, info: str) -> None:
        self.node, self.topics = node, (rgb, depth, info)

    def worker(self, pipelined: bool, torch_threads: int) -> StagedWorker:
        """Three overlapping stages, or one that runs them in turn."""
        stages = [("decode", self._guard(self.decode)), ("inference", self._guard(self.infer)),
                  ("outputs", self._guard(self.outputs))]
        if pipelined:
            # Each torch op of the encoding takes the GIL back between kernels; with the
            # executor and two other stages running Python, the default 5 ms switch interval
            # let each of those hand-overs wait up to 5 ms.
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        else:
            in_turn = [stage for _, stage in stages]

            def serial(job: FrameJob) -> None:
                for stage in in_turn:
                    job = stage(job)
                    if job is None:
                        return
            stages = [("serial", serial)]
        return StagedWorker(stages, on_superseded=lambda _: self.node.stats.count_drop(
            "superseded"), thread_setup=lambda _: apply_thread_budget(torch_threads))

    def decode(self, job: FrameJob) -> FrameJob:
        node = self.node
        rgb_topic, depth_topic, info_topic = self.topics
        rgb_msg, depth_msg = job.items[rgb_topic], job.items[depth_topic]
        camera = node.frames.camera(job.items[info_topic])  # K checked before any work
        node._check_frames(rgb_msg, depth_msg)
        rgb = node._decode(decode_color, rgb_msg, rgb_topic)
        depth = node._decode(decode_depth, depth_msg, depth_topic)
        rgb, depth, job.camera = node.frames.prepare(rgb, depth, camera)
        gravity, height = node.gravity_from_tf.for_image(
            rgb_msg.header.frame_id, stamp_ns(rgb_msg.header)) if node.gravity_from_tf \
            else (None, None)
        job.cloud_classes = tuple(i for i, pub in node.class_pubs.items()
                                  if pub.get_subscription_count())
        job.organized_cloud = bool(node.points_pub is not None
                                   and node.points_pub.get_subscription_count())
        # Overlay and confidence are built only while someone listens, as the clouds are.
        job.overlay = bool(node.color_pub.get_subscription_count())
        job.confidence = bool(node.confidence_pub is not None
                              and node.confidence_pub.get_subscription_count())
        job.frame = node.pipeline.encode(rgb, depth, job.camera.intrinsics(), None,
                                         gravity=gravity, camera_height_m=height)
        return job

    def infer(self, job: FrameJob) -> FrameJob:
        job.network_output = self.node.pipeline.infer(job.frame)
        return job

    def outputs(self, job: FrameJob) -> None:
        node = self.node
        result = node.pipeline.finish(job.frame, job.network_output, job.cloud_classes,
                                      job.organized_cloud, job.overlay, job.confidence)
        if not node._worker.running:  # shutting down: the publishers are about to go
            node.stats.count_drop("shutdown")
            return
        rgb_msg = job.items[self.topics[0]]
        node._publish(rgb_msg, job.camera, result)
        node._memory.after_frame(job.frame.rgb.shape[0] * job.frame.rgb.shape[1])
        latency = (node.get_clock().now().nanoseconds - stamp_ns(rgb_msg.header)) / 1e6
        pipeline_ms = (time.perf_counter() - job.received) * 1000.0
        node.stats.count_processed(latency, pipeline_ms, result.timings_ms)

    def _guard(self, stage: Callable[[FrameJob], Any]) -> Callable[[FrameJob], Any]:
        """The stage, ending the frame with a named drop reason on any error: the node must
        outlive any single bad frame."""
        node = self.node

        def guarded(job: FrameJob) -> Any:
            try:
                return stage(job)
            except FrameError as error:
                node.stats.count_drop(error.reason)
                node._warn(error.log_key, f"frame dropped: {error}")
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                node.stats.count_drop("gpu_out_of_memory")
                node._warn("oom", "frame dropped: GPU out of memory (another process on the GPU?)")
            except Exception as error:
                text = str(error).lower()
                if "out of memory" in text or "failed to allocate" in text:
                    node.stats.count_drop("gpu_out_of_memory")  # ONNX Runtime's CUDA allocator
                    node._warn("oom", f"frame dropped: GPU out of memory in ONNX Runtime: {error}")
                else:
                    node.stats.count_drop("error")
                    node._warn("error", f"frame dropped: {type(error).__name__}: {error}")
            return None
        return guarded

