"""`ros2 launch sgnet_ros segment.launch.py` and the `ros2` command against the real node.

Each launch runs the unmodified upstream `ros2 launch` in its own session; `sgnet-play`
feeds it the bundled bag and this process listens on the topics the launch arguments
should give. One launch with the default arguments serves the `ros2 topic/param/node`
checks. Needs the tools that tools/install_ros_tools.sh installs (skips without them).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import threading
import time

import pytest
import rclpy
import yaml
from ros_cli import (
    PREFIX,
    ROOT,
    ROS2,
    SAMPLE_BAG,
    Launch,
    Listener,
    play_sample_bag,
    requires_ros_tools,
    ros2,
    ros_environment,
    stop_everything,
)

from sgnet_ros.ros.children import stop_child
from sgnet_ros.ros.launch_config import CAMERA_REMAPS
from sgnet_ros.ros.parameters import NODE_NAME, SCHEMA

pytestmark = [pytest.mark.ros, requires_ros_tools]
REALSENSE = json.loads((ROOT / "test" / "data" / "realsense2_camera_4x_topics.json").read_text())


@functools.cache
def bag_color_stamps() -> frozenset[int]:
    """Header stamps (ns) of the bag's colour images: what the labels must carry."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image

    from sgnet_ros.bags.io import read_messages

    topic = "/camera/rgb/image_rect_color"
    return frozenset(stamp(deserialize_message(m.data, Image))
                     for m in read_messages(SAMPLE_BAG, [topic]))


def stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def labels_listener(namespace: str) -> Listener:
    from sensor_msgs.msg import Image

    listener = Listener(namespace.strip("/").replace("/", "_") or "root")
    listener.subscribe(f"{namespace}/segmentation/image", Image)
    return listener


def assert_labels_arrive(listener: Listener, namespace: str, launch: Launch, count: int = 3):
    topic = f"{namespace}/segmentation/image"
    assert listener.wait_for(lambda: len(listener.messages(topic)) >= count, timeout=120), \
        launch.output()
    assert {stamp(m) for m in listener.messages(topic)} <= bag_color_stamps()


def assert_clean_interrupt(launch: Launch) -> None:
    code, survivors = launch.interrupt()
    output = launch.output()
    assert code == 0, output
    assert survivors == [], f"left running after SIGINT: {survivors}\n{output}"
    assert re.search(r"process has finished cleanly \[pid \d+\]", output), output
    assert "summary:" in output, output


def node_process(launch: Launch, executable: str):
    """The launched node's process (its command line names the executable it runs)."""
    for process in launch.remember_children():
        if any(part.endswith(f"/lib/sgnet_ros/{executable}") for part in process.cmdline()):
            return process
    raise AssertionError(f"no {executable} among {[p.cmdline() for p in launch.seen.values()]}")


def ros2_until(*args: str, expect: str, timeout: float = 60.0) -> str:
    """Repeat a `ros2` command until its output has `expect` (discovery takes a moment)."""
    deadline = time.monotonic() + timeout
    output = ""
    while time.monotonic() < deadline:
        output = ros2(*args).stdout
        if expect in output:
            return output
        time.sleep(0.5)
    raise AssertionError(f"`ros2 {' '.join(args)}` never said {expect!r}:\n{output}")


# --- the default arguments, shared by the ros2 command checks ------------------------------
@pytest.fixture(scope="module")
def default_launch(tmp_path_factory):
    logs = tmp_path_factory.mktemp("launch_default")
    launch = Launch(log=logs / "launch.log")
    listener = labels_listener("/camera")
    player = None
    try:
        assert launch.wait_for_output("ready in"), launch.output()
        player = play_sample_bag(loops=100, log=logs / "player.log")  # ~150 s of frames
        yield launch, listener
    finally:
        stop_everything(listener, player, launch)


def test_default_arguments_segment_the_bag_in_the_camera_namespace(default_launch):
    launch, listener = default_launch
    assert_labels_arrive(listener, "/camera", launch)
    command = node_process(launch, "segmentation_node").cmdline()
    assert str(PREFIX / "lib" / "sgnet_ros" / "segmentation_node") in command
    assert str(PREFIX / "share" / "sgnet_ros" / "config" / "sgnet.yaml") in command


def test_ros2_topic_hz_measures_the_label_image(default_launch):
    launch, _ = default_launch
    process = subprocess.Popen([ROS2, "topic", "hz", "/camera/segmentation/image"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=ros_environment(), start_new_session=True)
    give_up = threading.Timer(90, process.kill)  # ends the read below if no rate ever comes
    give_up.start()
    rates = []
    try:
        for line in process.stdout:
            match = re.match(r"\s*average rate: ([0-9.]+)", line)
            if match:
                rates.append(float(match.group(1)))
                if len(rates) == 2:
                    break
    finally:
        give_up.cancel()
        stop_child(process)
    assert len(rates) == 2 and all(rate > 1.0 for rate in rates), (rates, launch.output())


def test_ros2_param_describe_shows_the_schema(default_launch):
    names = ("sync.slop", "input_qos", "overlay_alpha")
    output = ros2_until("param", "describe", f"/camera/{NODE_NAME}", *names, "--no-daemon",
                        "--spin-time", "1", expect="Parameter name")
    specs = {spec.name: spec for spec in SCHEMA}
    for name in names:
        assert f"Parameter name: {name}" in output
        assert f"Description: {specs[name].description}" in output, output
        assert f"Additional constraints: {specs[name].allowed}" in output, output


def documented_topics() -> dict[str, tuple[str, str]]:
    """README's topic table: relative name -> ('in'|'out', message type or '')."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Topics", 1)[1].split("\n## ", 1)[0]
    topics = {}
    for name, direction, kind in re.findall(r"^\| `([^`]+)`( \(in\))? \| ([^|]+) \|", table,
                                            re.MULTILINE):
        msg_type = kind.strip() if re.fullmatch(r"\w+/\w+", kind.strip()) else ""
        topics[name] = ("in" if direction else "out", msg_type)
    return topics


def test_ros2_node_info_lists_the_documented_topics(default_launch):
    output = ros2_until("node", "info", f"/camera/{NODE_NAME}", "--no-daemon", "--spin-time",
                        "1", expect="Subscribers:")
    subscribers = output.split("Subscribers:")[1].split("Publishers:")[0]
    publishers = output.split("Publishers:")[1].split("Service Servers:")[0]
    documented = documented_topics()
    assert len(documented) >= 10, documented
    off_by_default = {spec.name.removeprefix("publish_") for spec in SCHEMA
                      if spec.name.startswith("publish_") and spec.default is False}
    for name, (direction, msg_type) in documented.items():
        if name.split("/")[-1] in off_by_default or "<class>" in name:
            continue  # publish_<topic>: false by default / one per class, checked below
        resolved = name if name.startswith("/") else f"/camera/{name}"
        section = subscribers if direction == "in" else publishers
        package, _, message = msg_type.partition("/")
        expected = f"{resolved}: {package}/msg/{message}" if msg_type else f"{resolved}: "
        assert expected in section, f"{expected!r} not listed\n{output}"
    assert re.search(r"/camera/points/floor: sensor_msgs/msg/PointCloud2", publishers), output


def test_sigint_stops_the_default_launch_and_leaves_no_process(default_launch):
    launch, _ = default_launch
    assert_clean_interrupt(launch)


# --- every other launch argument -----------------------------------------------------------
def test_namespace_model_params_file_and_sim_time(tmp_path):
    from rosgraph_msgs.msg import Clock

    model = tmp_path / "my_model.onnx"
    shutil.copy(ROOT / "models" / "sgnet_small_synthetic_hha.onnx", model)
    params = yaml.safe_load((ROOT / "config" / "sgnet.yaml").read_text())
    params["/**"]["ros__parameters"].update({"sync.slop": 0.04, "publish_points": False})
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    namespace = "/robot/front"
    listener = labels_listener(namespace)
    diagnostics = []
    from diagnostic_msgs.msg import DiagnosticArray

    listener.node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    clock = listener.node.create_publisher(Clock, "/clock", 10)
    ticking = threading.Event()

    def tick() -> None:  # simulated time from 1000 s on, as `ros2 bag play --clock` gives
        seconds = 1000.0
        while not ticking.wait(0.1):
            seconds += 0.1
            clock.publish(Clock(clock=_time(seconds)))

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    launch = Launch("namespace:=robot/front", f"model:={model}", f"params_file:={params_file}",
                    "use_sim_time:=true", log=tmp_path / "launch.log")
    player = None
    try:
        assert launch.wait_for_output("ready in"), launch.output()
        assert "model my_model.onnx" in launch.output()
        remaps = {f"/camera/{topic}": f"{namespace}/{topic}" for topic in
                  ("rgb/image_rect_color", "depth_registered/image_rect", "rgb/camera_info")}
        player = play_sample_bag(remaps, loops=3, log=tmp_path / "player.log")
        assert_labels_arrive(listener, namespace, launch)
        node = f"{namespace}/{NODE_NAME}"
        dump = ros2_until("param", "dump", node, "--no-daemon", "--spin-time", "1",
                          expect="ros__parameters")
        values = yaml.safe_load(dump)[node]["ros__parameters"]
        assert values["sync"]["slop"] == 0.04
        assert values["model_path"] == str(model)
        assert values["use_sim_time"] is True
        assert listener.node.count_publishers(f"{namespace}/segmentation/image") == 1
        assert listener.node.count_publishers(f"{namespace}/points") == 0  # the params file's
        # hardware_id names the model: this node's, not another run's left in the domain
        sim_stamps = lambda: [a.header.stamp.sec for a in diagnostics  # noqa: E731
                              if any(s.hardware_id == model.name for s in a.status)]
        assert listener.wait_for(lambda: sim_stamps(), timeout=30), launch.output()
        assert all(1000 <= sec < 1200 for sec in sim_stamps()), sim_stamps()
        assert_clean_interrupt(launch)
    finally:
        ticking.set()
        stop_everything(listener, player, launch)


def _time(seconds: float):
    from builtin_interfaces.msg import Time

    return Time(sec=int(seconds), nanosec=int((seconds % 1) * 1e9))


def test_camera_realsense_subscribes_to_what_realsense2_camera_4x_publishes(tmp_path):
    """A stand-in driver node named and namespaced as rs_launch.py names it publishes the
    bag on the private topic names of realsense2_camera's source; the node must segment it."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CameraInfo, Image

    from sgnet_ros.bags.io import read_messages

    listener = labels_listener("/camera")
    driver = rclpy.create_node(REALSENSE["node_name"],
                               namespace=f"/{REALSENSE['node_namespace']}")
    listener.executor.add_node(driver)
    stream = REALSENSE["color_stream_name"]
    topics = {name: pattern.format(stream=stream) for name, pattern in REALSENSE["topics"].items()}
    bag_topics = {"/camera/rgb/image_rect_color": ("color_image", Image),
                  "/camera/depth_registered/image_rect": ("aligned_depth", Image),
                  "/camera/rgb/camera_info": ("color_camera_info", CameraInfo)}
    publishers = {bag: driver.create_publisher(cls, topics[key], 10)
                  for bag, (key, cls) in bag_topics.items()}
    resolved = sorted(p.topic_name for p in publishers.values())
    assert resolved == sorted(CAMERA_REMAPS["realsense"].values())
    frames = [(m.topic, deserialize_message(m.data, bag_topics[m.topic][1]))
              for m in read_messages(SAMPLE_BAG, list(bag_topics))]
    stop = threading.Event()

    def drive() -> None:
        while not all(p.get_subscription_count() for p in publishers.values()):
            if stop.wait(0.1):
                return
        while not stop.is_set():
            for topic, msg in frames:
                publishers[topic].publish(msg)
                if stop.wait(1 / 90):  # three messages per 30 Hz frame
                    return

    feeder = threading.Thread(target=drive, daemon=True)
    feeder.start()
    launch = Launch("camera:=realsense", log=tmp_path / "launch.log")
    try:
        assert_labels_arrive(listener, "/camera", launch)
        assert_clean_interrupt(launch)
    finally:
        stop.set()
        feeder.join(timeout=5)
        listener.executor.remove_node(driver)
        driver.destroy_node()
        listener.close()
        launch.kill()


def test_rviz_true_without_rviz2_warns_and_runs_the_node(tmp_path):
    assert ros2("pkg", "prefix", "rviz2").returncode != 0, "rviz2 is installed here"
    launch = Launch("rviz:=true", log=tmp_path / "launch.log")
    try:
        assert launch.wait_for_output("ready in"), launch.output()
        output = launch.output()
        assert "rviz:=true, but rviz2 is not installed" in output, output
        assert output.index("rviz2 is not installed") < output.index("process started")
        assert launch.process.poll() is None, output
        assert_clean_interrupt(launch)
    finally:
        launch.kill()
