"""The ROS-free runtime: decoded arrays in, segmentation buffers out.

Stages in order: codec (decoding) -> sync -> geometry -> spatial (HHA/XYZ/depth) ->
preprocessing -> inference (ONNX Runtime) -> outputs; `pipeline.py` chains them. Imports
only numpy, torch, OpenCV and ONNX Runtime: nothing from ros/, bags/ or training/.
"""
