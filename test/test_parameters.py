"""The one parameter schema: defaults, config/sgnet.yaml, refusals that name the problem."""

from pathlib import Path

import pytest
import yaml

from sgnet_ros.pipeline.pipeline import PipelineConfig
from sgnet_ros.ros.parameters import (
    SCHEMA,
    SPECS,
    ParameterError,
    cloud_class_ids,
    flatten,
    load_parameter_file,
    markdown_table,
    validate,
)

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_valid_and_complete():
    settings = validate({})
    assert set(settings) == set(SPECS)


def test_shipped_parameter_file_sets_every_parameter_to_a_valid_value():
    document = yaml.safe_load((ROOT / "config" / "sgnet.yaml").read_text())
    (section,) = document.values()
    in_file = set(flatten(section["ros__parameters"]))
    declared_with_default = {spec.name for spec in SCHEMA if spec.default is not None}
    assert in_file == declared_with_default
    assert load_parameter_file(ROOT / "config" / "sgnet.yaml") == validate({})


def test_readme_parameter_table_is_generated_from_the_schema():
    assert markdown_table() in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name, value, words", [
    ("sync.slop", 3.0, ["'sync.slop'", "3.0", "out of range", "0.0 .. 1.0"]),
    ("sync.queue_size", 2.5, ["'sync.queue_size'", "integer"]),
    ("sync.policy", "latest", ["'sync.policy'", "'latest'", "approximate, exact"]),
    ("providers", ["gpu"], ["'providers'", "tensorrt, cuda, cpu"]),
    ("providers", [], ["'providers'"]),
    ("output_qos", "fast", ["'output_qos'", "reliable, best_effort"]),
    ("overlay_alpha", -0.1, ["'overlay_alpha'", "0.0 .. 1.0"]),
    ("publish_points", "yes", ["'publish_points'", "true or false"]),
    ("hha.gravity_vector", [0.0, "down", 0.0], ["'hha.gravity_vector'"]),
    ("hha.hole_policy", "ignore", ["'hha.hole_policy'", "reference, zero, fill"]),
])
def test_bad_values_are_refused_with_the_parameter_and_allowed_values(name, value, words):
    with pytest.raises(ParameterError) as error:
        validate({name: value})
    for word in words:
        assert word in str(error.value)


def test_cross_parameter_and_unknown_parameter_refusals():
    with pytest.raises(ParameterError, match="'min_depth' = 5.0 must be below 'max_depth' = 2.0"):
        validate({"min_depth": 5.0, "max_depth": 2.0})
    with pytest.raises(ParameterError, match="unknown parameter.*slope"):
        validate({"slope": 0.1})
    with pytest.raises(ParameterError, match="'palette'.*triples"):
        validate({"palette": [255, 0]})
    for size in ([640], [640, 480, 3], [8, 480], [640, 9000]):
        with pytest.raises(ParameterError, match=r"'warmup_size' .* must be \[width, height\]"):
            validate({"warmup_size": size})
    assert validate({"warmup_size": [1280, 720]})["warmup_size"] == [1280, 720]


def test_integers_stand_for_floats_as_in_ros_yaml_files():
    assert validate({"sync.slop": 0})["sync.slop"] == 0.0


def test_settings_become_the_pipeline_configuration():
    config = PipelineConfig.from_settings(validate({
        "palette": [1, 2, 3, 4, 5, 6], "hha.gravity_vector": [0, 1, 0.1],
        "resize": "nearest_labels",
        "providers": ["cpu"]}))
    assert config.outputs.palette == ((1, 2, 3), (4, 5, 6))
    assert config.hha.gravity_vector == (0.0, 1.0, 0.1)
    assert config.outputs.resize == "nearest_labels"
    assert tuple(config.providers.order) == ("cpu",)


def test_cloud_classes_accept_all_none_or_names_and_refuse_unknown_names():
    names = ("wall", "floor", "chair")
    assert cloud_class_ids(["all"], names) == [0, 1, 2]
    assert cloud_class_ids(["none"], names) == []
    assert cloud_class_ids(["chair", "wall"], names) == [2, 0]
    with pytest.raises(ParameterError, match="'cloud_classes'.*sofa"):
        cloud_class_ids(["sofa"], names)
