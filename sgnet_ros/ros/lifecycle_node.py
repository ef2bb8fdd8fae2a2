"""The segmentation node as a managed (lifecycle) node, for Nav2-style lifecycle managers.

    ros2 run sgnet_ros segmentation_lifecycle_node      # or: ros2 launch ... lifecycle:=true
    ros2 lifecycle set /camera/sgnet_segmentation configure   # load the model, warm up
    ros2 lifecycle set /camera/sgnet_segmentation activate    # topics in and out

`configure` loads the model and warms up, `activate` creates the subscriptions and
publishers and starts the worker, `deactivate` removes them again and keeps the model,
`cleanup` and `shutdown` release everything. The set-up and the processing are the plain
node's own methods; only the order in which they run differs.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNodeMixin, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from sgnet_ros.pipeline.inference import ModelLoadError
from sgnet_ros.ros.node import (
    SegmentationNode,
    _interrupt,
    declare_parameters,
    spin_until_interrupted,
    undeclared_overrides,
)
from sgnet_ros.ros.parameters import (
    NODE_NAME,
    SCHEMA,
    ParameterError,
    unknown_parameters_message,
    validate,
)

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class SegmentationLifecycleNode(LifecycleNodeMixin, SegmentationNode):
    """SegmentationNode whose set-up runs in lifecycle transitions instead of at start."""

    def __init__(self) -> None:
        Node.__init__(self, NODE_NAME)  # not SegmentationNode.__init__: that sets up at once
        # A bad value is reported by `configure`, which refuses; the node lives on.
        with contextlib.suppress(ParameterError):
            declare_parameters(self)
        LifecycleNodeMixin.__init__(self)
        self._interfaces: list = []  # what activate created
        self._configured: list = []  # what configure created
        self.get_logger().info("unconfigured: `ros2 lifecycle set <node> configure` loads the "
                               "model")

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        started = time.perf_counter()
        try:
            self.settings = validate({spec.name: self.get_parameter(spec.name).value
                                      for spec in SCHEMA})
            if undeclared_overrides(self):  # a typo in the parameter file: named, refused
                raise ParameterError(unknown_parameters_message(undeclared_overrides(self)))
            before = self._entities()
            self._load()  # may subscribe to TF (hha.gravity_source: tf)
            self._configured = [entity for entity in self._entities() if entity not in before]
        except (ParameterError, ModelLoadError) as error:
            self.get_logger().error(f"cannot configure: {error}")
            return FAILURE
        self._log_ready("configured", started)
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        before = self._entities()
        self._make_interfaces()
        self._interfaces = [entity for entity in self._entities() if entity not in before]
        self._start_worker()
        self.get_logger().info("active: subscribed to the camera, publishing")
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_interfaces()
        self.get_logger().info("inactive: topics closed, the model stays loaded")
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_model()
        self.get_logger().info("unconfigured: model released")
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_interfaces()
        self._release_model()
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_interfaces()
        self._release_model()
        return SUCCESS

    def stop(self) -> None:
        """Release whatever the current state holds (the entry point calls this at exit)."""
        self._release_interfaces()

    def _entities(self) -> list:
        return [*self.subscriptions, *self.publishers, *self.timers]

    def _destroy(self, entities: list) -> None:
        for entity in entities:
            if entity in self.subscriptions:
                self.destroy_subscription(entity)
            elif entity in self.publishers:
                self.destroy_publisher(entity)
            else:
                self.destroy_timer(entity)

    def _release_interfaces(self) -> None:
        """Topics and timer of `activate` go, then the worker (its summary line is logged)."""
        if not self._interfaces:
            return
        self._destroy(self._interfaces)
        self._interfaces = []
        SegmentationNode.stop(self)

    def _release_model(self) -> None:
        self._destroy(self._configured)
        self._configured = []
        for name in ("pipeline", "settings", "gravity_from_tf"):
            self.__dict__.pop(name, None)


def main(args: list[str] | None = None) -> int:
    """Console entry point: spins the managed node until SIGINT/SIGTERM."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)  # as the plain node: no traceback at exit
    signal.signal(signal.SIGTERM, _interrupt)
    node = SegmentationLifecycleNode()
    try:
        spin_until_interrupted(node)  # unconfigured or inactive, no timer ends a wait
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
