"""The node's one parameter schema: names, defaults, ranges and descriptions, declared once.

The ROS node declares exactly these (with descriptors, so `ros2 param describe` shows the
ranges), the offline tools read the same names from `config/sgnet.yaml`, and the README's
parameter table is generated from here, so the three can never disagree.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NODE_NAME = "sgnet_segmentation"
PROVIDER_NAMES = ("tensorrt", "cuda", "cpu")


class ParameterError(ValueError):
    """A parameter value outside its schema; the message names the parameter and what is allowed."""


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: its type, default, allowed values and what it does."""

    name: str
    kind: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def allowed(self) -> str:
        """The allowed values in words, for error messages and the README."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.minimum is not None:
            return f"{self.minimum} .. {self.maximum}"
        return {"bool": "true or false", "string": "any string",
                "integer_array": "list of integers"}.get(self.kind, "")


def _spec(name: str, kind: str, default: Any, description: str, **limits: Any) -> ParameterSpec:
    return ParameterSpec(name, kind, default, description, **limits)


SCHEMA: tuple[ParameterSpec, ...] = (
    _spec("model_path", "string", "",
          "ONNX model file; empty = the bundled default model. Classes, normalisation and "
          "spatial mode come from the model's metadata."),
    _spec("providers", "string_array", ["cuda", "cpu"],
          "ONNX Runtime execution providers, tried in this order; each of tensorrt, cuda, cpu.",
          choices=PROVIDER_NAMES),
    _spec("device", "string", "auto",
          "Where torch computes the spatial encoding and outputs: auto = CUDA when available.",
          choices=("auto", "cuda", "cpu")),
    _spec("io_binding", "bool", True,
          "Feed ONNX Runtime through IO binding (torch tensors in place, no numpy round trip)."),
    _spec("tensorrt_cache_dir", "string", "",
          "TensorRT engine cache directory; empty = ~/.cache/sgnet_ros/tensorrt."),
    _spec("tensorrt_fp16", "bool", False, "Let TensorRT build fp16 engines."),
    _spec("warmup", "bool", True,
          "Run dummy frames at start-up so the first real frames are not slow."),
    _spec("warmup_size", "integer_array", [640, 480],
          "[width, height] of the warm-up frames: the camera's, so the buffers and pixel "
          "tables of that size exist before the first frame (16 .. 8192 each)."),
    _spec("sync.policy", "string", "approximate",
          "Pairing of RGB, depth and camera_info by header stamp.",
          choices=("approximate", "exact")),
    _spec("sync.queue_size", "int", 5, "Messages kept per input while waiting for partners.",
          minimum=1, maximum=100),
    _spec("sync.slop", "float", 0.02,
          "Largest stamp difference (s) for an approximate match.", minimum=0.0, maximum=1.0),
    _spec("sync.stale_warning", "float", 3.0,
          "Seconds without a synced set, while inputs arrive, before diagnostics warn.",
          minimum=0.5, maximum=600.0),
    _spec("input_qos", "string", "reliable",
          "Reliability of the input subscriptions. best_effort also matches best-effort "
          "drivers, but over Fast DDS it lost most 640x480 frames here (README).",
          choices=("reliable", "best_effort")),
    _spec("input_depth", "int", 5,
          "History depth of the input subscriptions (as SensorDataQoS).",
          minimum=1, maximum=10),
    _spec("transport.rgb", "string", "raw",
          "How the colour image arrives: raw (sensor_msgs/Image on rgb/image_rect_color) or "
          "compressed (jpeg/png CompressedImage on <that topic, remapped>/compressed, as "
          "image_transport names it).", choices=("raw", "compressed")),
    _spec("transport.depth", "string", "raw",
          "How the depth image arrives: raw (sensor_msgs/Image), compressedDepth (png or rvl "
          "on <depth topic>/compressedDepth, 16UC1 or 32FC1) or compressed (a 16-bit png on "
          "<depth topic>/compressed).", choices=("raw", "compressed", "compressedDepth")),
    _spec("output_qos", "string", "reliable",
          "Reliability of the output publishers (RViz's default is reliable).",
          choices=("reliable", "best_effort")),
    _spec("output_depth", "int", 2, "History depth of the output publishers.",
          minimum=1, maximum=5),
    _spec("resize", "string", "bilinear_logits",
          "How network output reaches camera resolution: bilinear on logits then argmax, "
          "or nearest neighbour on labels (cheaper).",
          choices=("bilinear_logits", "nearest_labels")),
    _spec("overlay_alpha", "float", 0.5,
          "Weight of the camera image in segmentation/color: 0 = pure label colours, "
          "1 = the camera image alone.", minimum=0.0, maximum=1.0),
    _spec("palette", "integer_array", None,
          "Class colours as a flat [r, g, b, r, g, b, ...] list, one triple per class; "
          "unset = the model's palette (NYU40 by default)."),
    _spec("publish_confidence", "bool", False,
          "Publish segmentation/confidence (32FC1 softmax maximum)."),
    _spec("label_info_format", "string", "auto",
          "Type of the latched segmentation/label_info: vision_msgs/LabelInfo, std_msgs/String "
          "JSON (names, colours, cloud topics), or auto = LabelInfo when vision_msgs is "
          "importable, else JSON.", choices=("auto", "vision_msgs", "json")),
    _spec("publish_points", "bool", True,
          "Publish the organized labelled cloud on `points`."),
    _spec("cloud_classes", "string_array", ["all"],
          "Classes that get a points/<class> cloud: names from the model, 'all', or 'none'."),
    _spec("cloud_stride", "int", 1, "Use every n-th pixel in rows and columns for clouds.",
          minimum=1, maximum=16),
    _spec("voxel_size", "float", 0.0,
          "Voxel grid (m) for the per-class clouds; 0 = off.", minimum=0.0, maximum=1.0),
    _spec("min_depth", "float", 0.1, "Nearest depth (m) that enters a cloud.",
          minimum=0.0, maximum=100.0),
    _spec("max_depth", "float", 10.0, "Farthest depth (m) that enters a cloud.",
          minimum=0.01, maximum=100.0),
    _spec("diagnostics_period", "float", 1.0, "Seconds between /diagnostics messages.",
          minimum=0.1, maximum=60.0),
    # Real time (ros/node.py, pipeline/staged.py).
    _spec("pipelined", "bool", True,
          "Overlap three stages across frames (decode+encode | inference | outputs+publish), "
          "one thread each, newest frame wins at each hand-over; false = one worker in turn."),
    _spec("threads.torch", "int", 1,
          "torch intra-op threads (spatial encoding, outputs); 0 = torch's own choice (one "
          "per core). 1 measured best on 2 cores with pipelined; raise it on 8+ cores.",
          minimum=0, maximum=256),
    _spec("threads.onnx", "int", 1,
          "ONNX Runtime intra-op threads on the CPU provider; 0 = its own choice (one per "
          "core). 1 measured best on 2 cores with pipelined; raise it on 8+ cores.",
          minimum=0, maximum=256),
    # Camera geometry (pipeline/geometry.py).
    _spec("rectify", "bool", False,
          "Undistort and rectify colour (bilinear) and depth (nearest) with OpenCV from the "
          "camera_info D, R and P, for setups without image_proc; off: the inputs must be "
          "rectified already (a non-zero D is reported)."),
    _spec("check_registration", "bool", True,
          "Drop depth whose frame_id differs from the colour's (unregistered_depth); turn off "
          "for drivers that name the frame of registered depth differently."),
    _spec("min_valid_depth_fraction", "float", 0.0,
          "Drop frames whose share of valid depth pixels is below this (no_valid_depth); "
          "0 = never drop.", minimum=0.0, maximum=1.0),
    _spec("publish_spatial", "bool", False,
          "Publish segmentation/spatial: the network's spatial input (HHA as rgb8, XYZ as "
          "32FC3, depth as 32FC1) at the network's size, to check gravity and height."),
    # HHA encoding (hha mode models only); defaults reproduce the reference HHA of NYUDv2.
    _spec("hha.gravity_source", "string", "estimate",
          "estimate: iterate from hha.gravity_vector over surface normals (reference); fixed: "
          "hha.gravity_vector is gravity (e.g. a mounted camera of known pitch); tf: the -z "
          "axis of hha.gravity_frame at the image stamp (the estimate when TF has none).",
          choices=("estimate", "fixed", "tf")),
    _spec("hha.gravity_frame", "string", "base_link",
          "TF frame whose z axis points up (REP 103/105) and whose origin plane is the floor, "
          "for gravity_source and height_mode tf (base_link at floor level, base_footprint)."),
    _spec("hha.tf_timeout", "float", 0.1,
          "Seconds to wait for the transform at an image stamp before falling back.",
          minimum=0.0, maximum=5.0),
    _spec("hha.gravity_vector", "float_array", [0.0, 1.0, 0.0],
          "Gravity (pointing down) in the camera optical frame, x right, y down, z forward; "
          "the estimate's start or, when fixed, the answer.", minimum=-1e3, maximum=1e3),
    _spec("hha.gravity_smoothing", "float", 0.0,
          "Weight of the previous frame's gravity (exponential smoothing); 0 = per frame.",
          minimum=0.0, maximum=0.99),
    _spec("hha.height_mode", "string", "lowest_point",
          "lowest_point: the floor is the lowest point (reference); camera_height: the floor "
          "lies hha.camera_height_m below the camera; tf: the camera's height above "
          "hha.gravity_frame's origin plane at the image stamp (lowest_point when TF has none).",
          choices=("lowest_point", "camera_height", "tf")),
    _spec("hha.floor_percentile", "float", 0.0,
          "Percentile of point heights taken as the floor in lowest_point mode; 0 = lowest.",
          minimum=0.0, maximum=50.0),
    _spec("hha.min_floor_drop_m", "float", 0.9,
          "A floor found less than this far (m) below the camera is replaced by "
          "hha.camera_height_m (reference 0.9).", minimum=0.01, maximum=10.0),
    _spec("hha.camera_height_m", "float", 1.3,
          "Camera height above the floor (m): the lowest_point fallback, the camera_height "
          "answer.", minimum=0.01, maximum=10.0),
    _spec("hha.disparity_scale", "float", 310.0,
          "Disparity channel = scale / max(depth, hha.disparity_min_depth_m) (reference 310).",
          minimum=0.01, maximum=10000.0),
    _spec("hha.disparity_min_depth_m", "float", 1.0,
          "Nearer depths (m) give the same disparity (reference 1.0).",
          minimum=0.01, maximum=10.0),
    _spec("hha.hole_policy", "string", "reference",
          "Pixels without depth: reference (as the reference code), zero (all channels 0) or "
          "fill (nearest valid depth for disparity and height).",
          choices=("reference", "zero", "fill")),
)

SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in SCHEMA}


def _check(spec: ParameterSpec, value: Any) -> Any:
    """Type- and range-check one value; returns it in its canonical Python type."""
    given = value

    def refuse(reason: str) -> ParameterError:
        return ParameterError(
            f"parameter '{spec.name}' = {given!r} {reason}; allowed: {spec.allowed}")

    if value is None:
        if spec.default is None:
            return None
        raise refuse("is missing")
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise refuse("is not a bool")
        return value
    if spec.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or (spec.kind == "int" and not float(value).is_integer()):
            raise refuse(f"is not {'an integer' if spec.kind == 'int' else 'a number'}")
        value = int(value) if spec.kind == "int" else float(value)
        if not spec.minimum <= value <= spec.maximum:
            raise refuse("is out of range")
        return value
    if spec.kind == "string":
        if not isinstance(value, str):
            raise refuse("is not a string")
        if spec.choices and value not in spec.choices:
            raise refuse("is not allowed")
        return value
    if not isinstance(value, list | tuple):
        raise refuse("is not a list")
    if spec.kind == "string_array":
        if not all(isinstance(item, str) for item in value):
            raise refuse("is not a list of strings")
        if spec.choices and (not value or any(item not in spec.choices for item in value)):
            raise refuse("has an entry that is not allowed")
        return list(value)
    if spec.kind == "float_array":
        if not all(isinstance(item, int | float) and not isinstance(item, bool)
                   for item in value) or not all(spec.minimum <= item <= spec.maximum
                                                 for item in value):
            raise refuse("is not a list of numbers in range")
        return [float(item) for item in value]
    if not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise refuse("is not a list of integers")
    return list(value)


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Complete `values` with defaults and check every entry; raises ParameterError."""
    unknown = sorted(set(values) - set(SPECS))
    if unknown:
        raise ParameterError(unknown_parameters_message(unknown))
    settings = {spec.name: _check(spec, values.get(spec.name, spec.default)) for spec in SCHEMA}
    if settings["min_depth"] >= settings["max_depth"]:
        raise ParameterError(
            f"parameter 'min_depth' = {settings['min_depth']} must be below "
            f"'max_depth' = {settings['max_depth']}")
    size = settings["warmup_size"]
    if len(size) != 2 or not all(16 <= side <= 8192 for side in size):
        raise ParameterError(
            f"parameter 'warmup_size' = {size} must be [width, height], each 16 .. 8192")
    palette = settings["palette"]
    if palette is not None and (len(palette) % 3 or any(not 0 <= c <= 255 for c in palette)):
        raise ParameterError(
            "parameter 'palette' must be a flat list of r, g, b triples with values 0..255, "
            f"got {len(palette)} values")
    return settings


def unknown_parameters_message(names: Iterable[str]) -> str:
    """One line naming each unknown parameter with the nearest schema names (typos)."""
    parts = []
    for name in names:
        nearest = difflib.get_close_matches(name, SPECS, n=2, cutoff=0.6) or \
            difflib.get_close_matches(name.replace("_", "."), SPECS, n=2, cutoff=0.6)
        hint = f" (did you mean {' or '.join(nearest)}?)" if nearest else ""
        parts.append(f"'{name}'{hint}")
    return (f"unknown parameter {', '.join(parts)}: not in the schema, it would be ignored; "
            "`ros2 param describe` or the README lists the valid names")


def read_parameter_yaml(path: str | Path) -> Any:
    """A parameter file's YAML document, or one ParameterError line with the path and the
    parser's position (rcl's own parser would print a long traceback instead)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ParameterError(f"params file {path}: cannot be read ({error.strerror or error})"
                             ) from error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParameterError(f"params file {path} is not valid YAML: {where}{problem}") from error


def check_parameter_files(argv: Iterable[str]) -> None:
    """Read every `--params-file PATH` of a ROS command line before rcl does.

    rcl refuses a missing or broken file with a long traceback from rclpy.init; this
    refuses it first, in one line (read_parameter_yaml).
    """
    args = list(argv)
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "--params-file":
            read_parameter_yaml(value)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML mappings -> dotted parameter names, as ROS 2 parameter files nest them."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def load_parameter_file(path: str | Path, node_name: str = NODE_NAME) -> dict[str, Any]:
    """The node's `ros__parameters` from a ROS 2 parameter YAML file, validated."""
    document = read_parameter_yaml(path) or {}
    for key in (node_name, f"/{node_name}", "/**", "**"):
        if key in document and "ros__parameters" in document[key]:
            return validate(flatten(document[key]["ros__parameters"]))
    raise ParameterError(f"{path} has no '{node_name}: ros__parameters:' section")


def markdown_table(specs: Iterable[ParameterSpec] = SCHEMA) -> str:
    """The README's parameter table."""
    rows = ["| parameter | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for spec in specs:
        default = "unset" if spec.default is None else yaml.safe_dump(
            spec.default, default_flow_style=True).strip().removesuffix("...").strip()
        rows.append(f"| `{spec.name}` | {spec.kind} | `{default}` | {spec.allowed} | "
                    f"{spec.description} |")
    return "\n".join(rows)

def cloud_class_ids(requested: list[str], class_names: tuple[str, ...]) -> list[int]:
    """Class ids for the `cloud_classes` parameter ('all', 'none' or class names)."""
    if requested == ["all"]:
        return list(range(len(class_names)))
    if requested in ([], ["none"]):
        return []
    unknown = [name for name in requested if name not in class_names]
    if unknown:
        raise ParameterError(
            f"parameter 'cloud_classes' names {unknown}, which the model does not have; "
            f"allowed: all, none, or any of {', '.join(class_names)}")
    return [class_names.index(name) for name in requested]

