"""Input transports without image_transport: raw, `compressed` and `compressedDepth`.

image_transport has no Python API before Rolling, so the node subscribes to the topic a
transport publishes on itself: `<base>/compressed` or `<base>/compressedDepth`, where
`<base>` is the input topic after remapping (as image_transport resolves it), so a
RealSense launch remaps the same base topics whatever the transport.

DDS never matches a subscription with a publisher of another type: nothing arrives and
nothing says why. `InputTypeCheck` looks at the ROS graph and names the mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass

from sgnet_ros.ros.messages import COMPRESSED_IMAGE_TYPE, IMAGE_TYPE

RAW = "raw"
SUFFIXES = ("compressed", "compressedDepth")


def transport_topic(base: str, transport: str) -> str:
    """The topic a transport publishes `base` on (`base` itself for raw)."""
    return base if transport == RAW else f"{base}/{transport}"


def transport_type(transport: str) -> str:
    """The message type of a transport."""
    return IMAGE_TYPE if transport == RAW else COMPRESSED_IMAGE_TYPE


@dataclass(frozen=True)
class InputTopic:
    """One image input: its parameter, base topic (remapped) and chosen transport."""

    parameter: str
    base: str
    transport: str

    @property
    def topic(self) -> str:
        return transport_topic(self.base, self.transport)


def mismatch(entry: InputTopic, publisher_types: dict[str, list[str]]) -> str | None:
    """A line naming why `entry` can receive nothing, from the graph's publisher types per
    topic ({topic: [type, ...]}), or None when its topic has a publisher of its type."""
    expected = transport_type(entry.transport)
    found = publisher_types.get(entry.topic, [])
    if expected in found:
        return None
    if found:
        return (f"{entry.topic} is published as {', '.join(sorted(set(found)))} but subscribed "
                f"as {expected} ({entry.parameter}: {entry.transport}): nothing will arrive")
    for transport in (RAW, *SUFFIXES):
        other = transport_topic(entry.base, transport)
        if other != entry.topic and transport_type(transport) in publisher_types.get(other, []):
            return (f"nothing is published on {entry.topic} ({entry.parameter}: "
                    f"{entry.transport}) but {other} has a publisher: set "
                    f"{entry.parameter}: {transport}")
    return None


def publisher_types(node, topics: list[str]) -> dict[str, list[str]]:
    """{topic: [type of each publisher]} from the ROS graph."""
    return {topic: [info.topic_type for info in node.get_publishers_info_by_topic(topic)]
            for topic in topics}


def candidate_topics(entries: list[InputTopic]) -> list[str]:
    """Every topic any transport of the inputs could publish on."""
    return sorted({transport_topic(e.base, t) for e in entries for t in (RAW, *SUFFIXES)})
