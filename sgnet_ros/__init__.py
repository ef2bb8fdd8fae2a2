"""SGNet RGB-D semantic segmentation for ROS 2: a ROS-free pipeline and a thin rclpy node."""

__version__ = "0.1.0"
