"""Prompt shutdown on SIGINT/SIGTERM whatever clock the node's timers follow.

rclpy's wait set blocks in C until a subscription, timer or guard condition wakes it, and
a Python signal handler only runs once it returns: under sim time without /clock (timers
never fire) or with a 30 s diagnostics period, a signal waited that long. So the executor
spins in its own thread, the main thread waits on an Event that the signal handler sets
(a Python-level wait that signals do interrupt), and a guard condition then wakes the
executor so it returns at once.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from typing import NoReturn

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownRequest:
    """Set by SIGINT/SIGTERM; remembers which signal asked."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.signal_name: str | None = None

    def install(self) -> None:
        """Replace the handlers (call from the main thread, once the node is ready)."""
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_signal)

    def _on_signal(self, signum: int, _frame) -> None:
        self.signal_name = signal.Signals(signum).name
        self.requested.set()


def spin_until_shutdown(node: Node, request: ShutdownRequest) -> None:
    """Spin `node` until a stop signal (or rclpy shutdown), then return within one wake-up.

    An exception in a callback is raised here, after the executor has stopped.
    """
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    stopping = threading.Event()
    waker = node.create_guard_condition(lambda: None)
    failures: list[BaseException] = []

    def spin() -> None:
        try:
            while not stopping.is_set() and node.context.ok():
                executor.spin_once()
        except ExternalShutdownException:
            pass
        except BaseException as error:  # a callback's exception ends the node, as rclpy.spin
            failures.append(error)
        finally:
            request.requested.set()  # an executor that dies must not leave main waiting

    spinner = threading.Thread(target=spin, name="sgnet_executor", daemon=True)
    spinner.start()
    while not request.requested.wait(timeout=1.0):
        pass
    stopping.set()
    if node.context.ok():
        waker.trigger()
    spinner.join(timeout=1.0)
    executor.remove_node(node)
    node.destroy_guard_condition(waker)
    if failures:
        raise failures[0]


def exit_promptly(code: int) -> NoReturn:
    """End the process now that the node has stopped and logged its summary.

    Interpreter finalisation (torch, ONNX Runtime, rclpy modules) took another 0.9-1.5 s
    on a busy 2-core machine, which would break the one-second promise to a stop signal.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    ctypes.CDLL(None).fflush(None)  # rcutils writes log lines through C stdio
    os._exit(code)
