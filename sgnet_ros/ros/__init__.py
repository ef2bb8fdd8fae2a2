"""The rclpy shell around the pipeline: the node (plain and lifecycle), message conversion,
the parameter schema, statistics, the process environment, launch helpers and the install
prefix.

Only `node` and `lifecycle_node` import rclpy at module level; the rest also serves the bag
tools without ROS.
May import from sgnet_ros.pipeline; never from bags/ or training/.
"""
