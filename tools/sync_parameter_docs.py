"""Regenerate config/sgnet.yaml and the README's parameter table from the one schema.

    .venv/bin/python tools/sync_parameter_docs.py

test_parameters.py fails when either is out of date, so run this after changing
sgnet_ros/ros/parameters.py.
"""

import textwrap
from pathlib import Path

import yaml

from sgnet_ros.benchmarks.readme_sections import replace_section
from sgnet_ros.ros.parameters import SCHEMA, markdown_table

ROOT = Path(__file__).resolve().parent.parent


def config_yaml() -> str:
    lines = ["# Parameters of the sgnet_ros segmentation node (all of them, with their defaults).",
             "# Generated from sgnet_ros/ros/parameters.py by tools/sync_parameter_docs.py; ranges",
             "# are in the README. A value outside its range stops the node with a message.",
             "/**:", "  ros__parameters:"]
    group = None
    for spec in SCHEMA:
        if spec.default is None:
            lines.append(f"    # {spec.name}: unset by default. {spec.description}")
            continue
        parts = spec.name.split(".")
        if len(parts) == 2 and parts[0] != group:
            group = parts[0]
            lines.append(f"    {group}:")
        indent = "      " if len(parts) == 2 else "    "
        lines += [f"{indent}# {line}" for line in textwrap.wrap(spec.description,
                                                               88 - len(indent))]
        value = yaml.safe_dump(spec.default, default_flow_style=True)
        lines.append(f"{indent}{parts[-1]}: {value.strip().removesuffix('...').strip()}")
    return "\n".join(lines) + "\n"


def main() -> None:
    (ROOT / "config" / "sgnet.yaml").write_text(config_yaml())
    replace_section(ROOT / "README.md", "parameters", markdown_table())


if __name__ == "__main__":
    main()
