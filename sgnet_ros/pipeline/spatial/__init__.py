"""The spatial encoding of depth in torch (CUDA when present): HHA, XYZ or plain depth.

`hha` holds the HHA algorithm, `encoding` the encoder the pipeline and `sgnet-hha` share.
May import only from sgnet_ros.pipeline.
"""
