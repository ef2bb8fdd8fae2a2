"""Which topics of a bag the replay tools use, checked before anything is written.

Bags come from robots this project never saw: the colour and depth topics may be raw
`sensor_msgs/Image` or image_transport's `CompressedImage`, under any names. The tools
read the types from the bag; a missing or unusable topic is one line that names it and
lists what the bag does hold, with the flags to pass.
"""

from __future__ import annotations

from pathlib import Path

from sgnet_ros.bags.io import CAMERA_INFO_TYPE, IMAGE_TYPES, BagTopics, bag_topics


class TopicError(ValueError):
    """The bag lacks a usable input topic; the message says which and what to pass instead."""


def _suggest(images: list[str], infos: list[str]) -> str:
    colour = next((t for t in images if "depth" not in t and ("color" in t or "rgb" in t)), None)
    depth = next((t for t in images if "depth" in t), None)
    prefix = colour.rsplit("/", 2)[0] if colour else ""
    info = next((t for t in infos if prefix and t.startswith(prefix)), infos[0] if infos else None)
    if not (colour and depth and info):
        return "it holds no colour + depth + camera_info set this tool can use"
    return f"try --rgb-topic {colour} --depth-topic {depth} --info-topic {info}"


def input_types(bag: Path, topics: BagTopics) -> dict[str, str]:
    """{topic: message type} of the three inputs, or TopicError naming what is wrong."""
    available = {topic: msgtype for topic, (msgtype, _) in bag_topics(bag).items()}
    wanted = [(topics.rgb, IMAGE_TYPES), (topics.depth, IMAGE_TYPES),
              (topics.camera_info, (CAMERA_INFO_TYPE,))]
    missing = [topic for topic, _ in wanted if topic not in available]
    if missing:
        images = sorted(t for t, m in available.items() if m in IMAGE_TYPES)
        infos = sorted(t for t, m in available.items() if m == CAMERA_INFO_TYPE)
        raise TopicError(
            f"{bag} has no topic {', '.join(missing)}; its image topics: "
            f"{', '.join(images) or 'none'}; camera_info topics: {', '.join(infos) or 'none'}; "
            f"{_suggest(images, infos)}")
    for topic, allowed in wanted:
        if available[topic] not in allowed:
            raise TopicError(f"{bag}: topic {topic} is {available[topic]}, which this tool "
                             f"cannot use here (expected {' or '.join(allowed)})")
    return {topic: available[topic] for topic, _ in wanted}
