"""The node under the cases of issue 17, as real processes driven over rclpy.

Shutdown in sim time without /clock and during a slow frame, parameter names that are not
in the schema, broken parameter files, inputs that never arrive or arrive late, stamps on
another clock, and the CUDA-missing line on a CPU-only machine.
"""

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import onnxruntime as ort
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from ros_harness import RELIABLE, ROOT, Harness, start_node, synthetic_frame

pytestmark = pytest.mark.ros
SECOND = 1_000_000_000
# Far above the ~0.1 s the node takes (see the report of issue 17), far below "never":
# before the fix a node in sim time without /clock ignored SIGINT for more than 40 s.
PROMPT_S = 5.0


class NodeProcess:
    """The node in its own process, its output read line by line as it comes."""

    def __init__(self, *ros_args: str, providers_cpu: bool = True) -> None:
        if providers_cpu:
            self.process = start_node(*ros_args)
        else:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sgnet_ros.ros.node", "--ros-args", "-r", "__ns:=/cam",
                 *ros_args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if text in self.output():
                return True
            time.sleep(0.05)
        return text in self.output()

    def stop(self, signum: int = signal.SIGINT) -> float:
        """Seconds from the signal to the end of the process (killed after 20 s)."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        elapsed = time.monotonic() - sent
        self._reader.join(timeout=5)
        return elapsed


def finish(*ros_args: str) -> tuple[int, str]:
    """Run a node that is expected to refuse to start; (exit code, output)."""
    node = start_node(*ros_args)
    output, _ = node.communicate(timeout=120)
    return node.returncode, output


class Diagnostics:
    """The node's /diagnostics messages (level, message, values) as they arrive."""

    def __init__(self, harness: Harness) -> None:
        self.statuses: list = []
        harness.node.create_subscription(DiagnosticArray, "/diagnostics", self._on, 10)

    def _on(self, array) -> None:
        self.statuses.extend(s for s in array.status if s.name.endswith(": segmentation"))

    def messages(self) -> list[str]:
        return [status.message for status in list(self.statuses)]


@pytest.fixture(scope="module")
def harness():
    harness = Harness()
    yield harness
    harness.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sim_time_without_clock_and_a_long_diagnostics_period_stop_promptly(signum):
    node = NodeProcess("-p", "use_sim_time:=true", "-p", "diagnostics_period:=30.0",
                       "-p", "warmup:=false")
    assert node.wait_for_line("ready in"), node.output()
    time.sleep(1.0)
    elapsed = node.stop(signum)
    assert elapsed < PROMPT_S, f"{signal.Signals(signum).name} took {elapsed:.1f} s"
    assert node.process.returncode == 0
    assert "summary: 0 frames in" in node.output()
    assert "Traceback" not in node.output()


def test_sim_time_without_clock_is_diagnosed_and_a_slow_frame_does_not_delay_the_stop(
        harness):
    diagnostics = Diagnostics(harness)
    node = NodeProcess("-p", "use_sim_time:=true", "-p", "diagnostics_period:=0.5",
                       "-p", "warmup:=false")
    points = harness.node.create_subscription(  # the organized cloud is built too
        harness.msgs.point_cloud, "/cam/points", lambda _: None, RELIABLE)
    try:
        assert harness.wait_for_node_inputs(), node.output()
        assert harness.wait_for(lambda: any(
            m.startswith("waiting for /clock") for m in diagnostics.messages()), 30), \
            diagnostics.messages()
        rgb, depth, K = synthetic_frame(2160, 3840)  # a 4K frame: seconds on 2 CPU cores

        def synced() -> bool:
            return any(kv.key == "frames synced" and kv.value != "0"
                       for status in list(diagnostics.statuses) for kv in status.values)
        for attempt in range(6):  # a frame sent before discovery settles can be lost
            harness.publish_frame((1_750_000_000 + attempt) * SECOND, rgb, depth, K)
            if harness.wait_for(synced, 5):
                break
        else:
            pytest.fail("the node never synced the 4K frame")
    finally:
        elapsed = node.stop(signal.SIGINT)
        harness.node.destroy_subscription(points)
    assert elapsed < PROMPT_S, f"SIGINT during a slow frame took {elapsed:.1f} s"
    summary = next(line for line in node.lines if "summary:" in line)
    assert re.search(r"summary: [1-9]\d* frames in, 0 processed", summary), summary
    assert "shutdown 1" in summary or "a frame in flight left unpublished" in summary, summary
    assert "Traceback" not in node.output()


def test_a_parameter_name_not_in_the_schema_is_refused_with_the_nearest_names(tmp_path):
    code, output = finish("-p", "sync_slop:=0.05")
    assert code == 2, output
    assert "unknown parameter 'sync_slop' (did you mean sync.slop?)" in output
    params = tmp_path / "typo.yaml"
    params.write_text("/**:\n  ros__parameters:\n    hha:\n"
                      "      gravity_vectr: [0.0, 1.0, 0.0]\n")
    code, output = finish("--params-file", str(params))
    assert code == 2, output
    assert "unknown parameter 'hha.gravity_vectr' (did you mean hha.gravity_vector" in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


def test_a_missing_or_broken_params_file_is_one_line_with_the_path_and_position(tmp_path):
    missing = tmp_path / "missing.yaml"
    code, output = finish("--params-file", str(missing))
    assert code == 2, output
    assert f"params file {missing}: cannot be read (No such file or directory)" in output
    broken = tmp_path / "broken.yaml"
    broken.write_text("sgnet_segmentation:\n  ros__parameters:\n    sync.slop: [0.1\n")
    code, output = finish("--params-file", str(broken))
    assert code == 2, output
    assert f"params file {broken} is not valid YAML: line 4, column 1: " in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


def publish_inputs(harness: Harness, stamp: int, streams: dict[str, int]) -> None:
    """One message on each named input, stamped `stamp` minus the stream's offset (ns)."""
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header
    rgb, depth, K = synthetic_frame()
    msgs = harness.msgs
    for name, offset_ns in streams.items():
        at = stamp - offset_ns
        header = Header(stamp=Time(sec=at // SECOND, nanosec=at % SECOND), frame_id="cam")
        if name == "rgb/camera_info":
            message = msgs.camera_info(header=header, height=240, width=320,
                                       k=K.ravel().tolist())
        else:
            message = msgs.image_msg(header, depth if name.startswith("depth") else rgb)
        harness.publishers[name].publish(message)


def test_a_missing_or_late_input_is_named_in_the_log_and_the_diagnostics(harness):
    diagnostics = Diagnostics(harness)
    node = NodeProcess("-p", "sync.stale_warning:=1.0", "-p", "diagnostics_period:=0.5",
                       "-p", "warmup:=false")
    stamp = time.time_ns()

    def publish_for(seconds: float, streams: dict[str, int]) -> None:
        nonlocal stamp
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            stamp += SECOND // 10
            publish_inputs(harness, stamp, streams)
            time.sleep(0.1)

    try:
        assert harness.wait_for_node_inputs(), node.output()
        publish_for(4.0, {"depth_registered/image_rect": 0, "rgb/image_rect_color": 0})
        missing = "/cam/rgb/camera_info: nothing received in"
        assert any(missing in m for m in diagnostics.messages()), diagnostics.messages()
        assert node.wait_for_line(missing, 5), node.output()
        diagnostics.statuses.clear()
        # camera_info arrives now, but depth is stamped 50 ms before colour: every depth
        # image is 50 ms from a colour image (10 Hz), beyond the 20 ms slop
        publish_for(4.0, {"depth_registered/image_rect": 50_000_000, "rgb/camera_info": 0,
                          "rgb/image_rect_color": 0})
        late = "/cam/depth_registered/image_rect stamps 0.05 s behind colour, sync.slop 0.02"
        assert any(late in m for m in diagnostics.messages()), diagnostics.messages()
        assert node.wait_for_line(late, 6), node.output()
    finally:
        node.stop()
    assert "Traceback" not in node.output()


def test_latency_percentiles_leave_out_stamps_on_another_clock(harness):
    harness.subscribe("segmentation/image", harness.msgs.image)
    node = NodeProcess("-p", "warmup:=false")
    rgb, depth, K = synthetic_frame()
    try:
        assert harness.wait_for_node_inputs(), node.output()

        def comes_out(stamp: int, timeout: float) -> bool:
            harness.publish_frame(stamp, rgb, depth, K)
            return harness.wait_for(lambda: stamp in harness.stamps("segmentation/image"),
                                    timeout)
        # a frame sent before discovery settles can be lost: send until one comes out
        assert any(comes_out(time.time_ns(), 10) for _ in range(6)), node.output()
        assert comes_out(SECOND, 60), node.output()  # stamped 1970
        for _ in range(3):
            assert comes_out(time.time_ns(), 60), node.output()
    finally:
        node.stop()
    summary = next(line for line in node.lines if "summary:" in line)
    p50, p95 = map(float, re.search(r"stamp->publish p50 (\S+) ms, p95 (\S+) ms",
                                    summary).groups())
    assert 0 < p50 <= p95 < 60_000, summary
    assert "1 frame(s) left out: their stamps are from another clock" in summary


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                    reason="this onnxruntime has CUDA: nothing is missing")
def test_cuda_missing_is_info_by_default_and_a_warning_only_when_asked_for():
    def start_up_lines(*ros_args: str) -> list[str]:
        node = NodeProcess("--params-file", str(ROOT / "config" / "sgnet.yaml"),
                           "-p", "warmup:=false", *ros_args, providers_cpu=False)
        assert node.wait_for_line("ready in"), node.output()
        node.stop()
        return [line for line in node.lines if "CUDAExecutionProvider" in line]

    default = start_up_lines()
    assert len(default) == 1 and default[0].startswith("[INFO]"), default
    assert "in the default provider list but this onnxruntime build lacks it" in default[0]
    asked = start_up_lines("-p", "providers:=[cuda]")
    assert len(asked) == 1 and asked[0].startswith("[WARN]"), asked
    assert "CUDAExecutionProvider requested but" in asked[0]


def resident_mib(pid: int) -> float:
    """VmRSS of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_memory_of_a_4k_frame_is_given_back_once_frames_are_small_again(harness):
    harness.subscribe("segmentation/image", harness.msgs.image)
    # No organized cloud: its 166 MB at 4K stay in the middleware's history (README)
    node = NodeProcess("-p", "warmup:=false", "-p", "publish_points:=false")
    vga, uhd = synthetic_frame(480, 640), synthetic_frame(2160, 3840)
    stamp = time.time_ns()

    def comes_out(frame, timeout: float = 60) -> bool:
        nonlocal stamp
        stamp += SECOND // 10
        harness.publish_frame(stamp, *frame)
        return harness.wait_for(lambda s=stamp: s in harness.stamps("segmentation/image"),
                                timeout)
    try:
        assert harness.wait_for_node_inputs(), node.output()
        assert any(comes_out(vga, 10) for _ in range(6)), node.output()
        for _ in range(10):
            assert comes_out(vga), node.output()
        small = resident_mib(node.process.pid)
        peaks = []
        for _ in range(3):
            assert comes_out(uhd), node.output()
            peaks.append(resident_mib(node.process.pid))
            for _ in range(5):
                assert comes_out(vga), node.output()
        back = resident_mib(node.process.pid)
        print("RSS MiB: small", small, "peaks", peaks, "back", back)
    finally:
        node.stop()
    # One 4K frame is 40 MiB of input (rgb8 + 16UC1). Before the fix the node stayed
    # 120-150 MiB above its VGA level after 3-6 such frames, now about 30: what remains
    # is the middleware's history of the largest messages (README "Memory").
    uhd_input_mib = (len(uhd[0].data) + len(uhd[1].data)) / 2**20
    assert back - small < 2 * uhd_input_mib, (small, peaks, back)
