"""SGNet RGB-D semantic segmentation for ROS 2: a ROS-free pipeline and a thin rclpy node."""

import os

__version__ = "0.1.0"

# torch's OpenMP threads busy-wait between parallel regions by default; next to other nodes
# on a robot's CPU that made each forward ~100x slower here. Passive waiting costs nothing
# when the CPU is free. Set before torch starts OpenMP; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
