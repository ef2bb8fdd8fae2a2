"""What is published from one segmented frame, built ROS-free from arrays.

`labels` resizes the network output to the camera, `overlay` colours it, `clouds` and
`device_clouds` build the point clouds, `buffers` recycles their memory and `builder`
puts them together. May import only from sgnet_ros.pipeline.
"""
