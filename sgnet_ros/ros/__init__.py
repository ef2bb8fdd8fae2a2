"""The rclpy shell around the pipeline: the node, message conversion, the parameter schema,
statistics, the process environment and launch helpers.

Only `node` imports rclpy at module level; the rest also serves the bag tools without ROS.
May import from sgnet_ros.pipeline; never from bags/ or training/.
"""
