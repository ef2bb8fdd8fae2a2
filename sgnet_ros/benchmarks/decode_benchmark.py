"""Decode cost per frame of each input transport, against raw decoding in the same run.

The frames are the bundled bags' own messages: the raw sample (rgb8, 16UC1) and its
RealSense-style twin (jpeg 640x480 colour, compressedDepth png depth). Each decode is the
node's: message -> (H,W,3) uint8 RGB or (H,W) metres.
"""

from __future__ import annotations

import time

from sgnet_ros.bags.demo import sample_bag_path
from sgnet_ros.bags.io import DEFAULT_TOPICS, REALSENSE_COMPRESSED_TOPICS, read_messages
from sgnet_ros.ros.messages import decode_color, decode_depth
from sgnet_ros.ros.stats import percentiles

TWIN = "sample_rgbd_realsense_compressed"
CASES = (  # name, bag, topic, decoder, raw reference row
    ("colour raw rgb8 (reference)", "sample_rgbd", DEFAULT_TOPICS.rgb, decode_color, None),
    ("colour jpeg", TWIN, REALSENSE_COMPRESSED_TOPICS.rgb, decode_color,
     "colour raw rgb8 (reference)"),
    ("depth raw 16UC1 (reference)", "sample_rgbd", DEFAULT_TOPICS.depth, decode_depth, None),
    ("depth compressedDepth png", TWIN, REALSENSE_COMPRESSED_TOPICS.depth, decode_depth,
     "depth raw 16UC1 (reference)"),
)


def decode_costs(frames: int = 15, repeats: int = 3) -> list[dict]:
    """p50/p95 ms per frame of each case and its ratio to the raw decode of that stream."""
    rows: dict[str, dict] = {}
    for name, bag, topic, decoder, reference in CASES:
        messages = [m.decode() for m, _ in zip(read_messages(sample_bag_path(bag), [topic]),
                                                range(frames), strict=False)]
        times = []
        for _ in range(repeats):
            for msg in messages:
                started = time.perf_counter()
                decoded = decoder(msg)
                times.append((time.perf_counter() - started) * 1000.0)
        p50, p95 = percentiles(times)
        rows[name] = {"name": name, "size": f"{decoded.shape[1]}x{decoded.shape[0]}",
                      "bytes_per_frame": len(messages[0].data), "p50_ms": p50, "p95_ms": p95,
                      "ratio_vs_raw": p50 / rows[reference]["p50_ms"] if reference else 1.0}
    return list(rows.values())


def decode_table(rows: list[dict]) -> str:
    """The Markdown table of `decode_costs`."""
    lines = ["| input decode | size | bytes/frame | p50 ms | p95 ms | x raw |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['size']} | {r['bytes_per_frame']} | {r['p50_ms']:.2f} | "
              f"{r['p95_ms']:.2f} | {r['ratio_vs_raw']:.1f} |" for r in rows]
    return "\n".join(lines)
