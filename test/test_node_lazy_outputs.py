"""The real node over rclpy builds the overlay and the confidence image only while a
subscriber listens (issue #19: lighter messages), read from its own diagnostics counters."""

import numpy as np
import pytest
from ros_harness import running_node, synthetic_frame
from sensor_msgs.msg import Image

pytestmark = pytest.mark.ros
SECOND = 1_000_000_000
LAZY_TOPICS = ("segmentation/color", "segmentation/confidence")


@pytest.fixture(scope="module")
def harness():
    with running_node("-p", "publish_confidence:=true", "-p", "warmup_size:=[160, 120]",
                      outputs=[("segmentation/image", Image)]) as harness:
        yield harness


def snapshot_after(harness, processed: int) -> dict[str, str]:
    """The first diagnostics message that counts `processed` frames (or more) as processed."""
    assert harness.wait_for(
        lambda: int(harness.diagnostics.get("frames processed", -1)) >= processed), \
        harness.diagnostics
    return dict(harness.diagnostics)


def built(values: dict[str, str]) -> tuple[int, int]:
    return int(values["overlays built"]), int(values["confidence images built"])


def send_frames(harness, stamps: list[int]) -> None:
    rgb, depth, K = synthetic_frame(120, 160)
    for stamp in stamps:
        harness.publish_frame(stamp, rgb, depth, K)
        assert harness.wait_for(lambda stamp=stamp: stamp in harness.stamps(
            "segmentation/image")), f"no label image for stamp {stamp}"


def test_overlay_and_confidence_are_built_only_while_subscribed(harness):
    base = 1_750_000_000 * SECOND
    send_frames(harness, [base])
    before = snapshot_after(harness, 1)
    assert all(topic in before["outputs without subscribers"] for topic in LAZY_TOPICS), before
    send_frames(harness, [base + SECOND // 10, base + 2 * SECOND // 10])
    unsubscribed = snapshot_after(harness, int(before["frames processed"]) + 2)
    assert built(unsubscribed) == built(before), unsubscribed  # nobody listens: not built

    harness.subscribe("segmentation/color", harness.msgs.image)
    harness.subscribe("segmentation/confidence", harness.msgs.image)
    # The node itself reports when it sees the new subscribers.
    assert harness.wait_for(lambda: not any(
        topic in harness.diagnostics.get("outputs without subscribers", topic)
        for topic in LAZY_TOPICS)), harness.diagnostics
    stamp = base + 3 * SECOND // 10
    send_frames(harness, [stamp])
    subscribed = snapshot_after(harness, int(unsubscribed["frames processed"]) + 1)
    overlays, confidences = built(unsubscribed)
    assert built(subscribed) == (overlays + 1, confidences + 1), subscribed
    assert harness.wait_for(lambda: all(stamp in harness.stamps(topic) for topic in LAZY_TOPICS))
    overlay = next(m for m in harness.messages("segmentation/color")
                   if m.header.stamp.nanosec == stamp % SECOND)
    confidence = next(m for m in harness.messages("segmentation/confidence")
                      if m.header.stamp.nanosec == stamp % SECOND)
    assert (overlay.encoding, overlay.height, overlay.width) == ("rgb8", 120, 160)
    assert (confidence.encoding, confidence.height, confidence.width) == ("32FC1", 120, 160)
    values = np.frombuffer(bytes(confidence.data), np.float32)
    assert np.all((values > 0) & (values <= 1)), (values.min(), values.max())
