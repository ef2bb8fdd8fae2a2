"""ament_python package that also installs standalone with pip (no ROS needed)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "sgnet_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")
         + glob("config/*.xml")),
        (f"share/{PACKAGE}/models", glob("models/*.onnx") + glob("models/*.md")),
    ],
    package_data={PACKAGE: ["data/*", "data/*/*"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        "onnx>=1.15",
        "onnxruntime>=1.17",
        "torch==2.13.0",
        "rosbags>=0.10",
        "zstandard",
        "tqdm",
        "pyyaml",
        "opencv-python-headless",
    ],
    extras_require={
        # ROS 2 kilted from PyPI, for machines without a system ROS. Never installed over a
        # system ROS: tools/env.sh only adds this extra when no rclpy is importable.
        "ros-wheels": [
            "ros-rclpy",
            "ros-sensor-msgs",
            "ros-std-msgs",
            "ros-builtin-interfaces",
            "ros-diagnostic-msgs",
            "ros-rmw-fastrtps-cpp",
            "ros-wheels-bootstrapper",
        ],
        "gpu": ["onnxruntime-gpu>=1.17"],
        # sgnet-fleet: many bags as Ray tasks, plus its report's plots.
        "fleet": ["ray>=2.60", "matplotlib"],
        # Independent readers: Foxglove's mcap + mcap-ros2-support, rosbags-image (cv_bridge
        # semantics) check what the tools write and decode. psutil: processes a launch leaves.
        # Ray and matplotlib: the fleet tests.
        "test": ["pytest>=7", "pytest-timeout", "hypothesis", "ruff", "mcap", "mcap-ros2-support",
                 "rosbags-image", "psutil", "ray>=2.60", "matplotlib"],
    },
    zip_safe=True,
    maintainer="sgnet_ros developers",
    maintainer_email="sgnet-ros@example.com",
    description="SGNet RGB-D semantic segmentation node for ROS 2",
    license="MIT",
    entry_points={
        "console_scripts": [
            "segmentation_node = sgnet_ros.ros.node:main",
            "segmentation_lifecycle_node = sgnet_ros.ros.lifecycle_node:main",
            "sgnet-ament-prefix = sgnet_ros.ros.ament_prefix:main",
            "sgnet-replay = sgnet_ros.bags.replay:main",
            "sgnet-play = sgnet_ros.bags.player:main",
            "sgnet-demo = sgnet_ros.bags.demo:main",
            "sgnet-export = sgnet_ros.network.export:main",
            "sgnet-hha = sgnet_ros.fleet.datasets:hha_main",
            "sgnet-synth = sgnet_ros.training.synthetic_cli:main",
            "sgnet-train = sgnet_ros.training.train:main",
            "sgnet-eval = sgnet_ros.fleet.datasets:eval_main",
            "sgnet-bench = sgnet_ros.benchmarks.pipeline_benchmark:main",
            "sgnet-fleet = sgnet_ros.fleet.cli:main",
            "sgnet-bench-latency = sgnet_ros.benchmarks.latency_benchmark:main",
            "sgnet-shm-clean = sgnet_ros.ros.shm_cleanup:main",
        ],
    },
)
