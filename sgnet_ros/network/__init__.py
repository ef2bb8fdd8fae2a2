"""SGNet in pure PyTorch: S-Conv, backbones, variants, checkpoints (official and own) and
the ONNX export. May import only the model contract from sgnet_ros.pipeline.
"""

from sgnet_ros.network.sgnet import VARIANTS, SGNet, build_sgnet

__all__ = ["VARIANTS", "SGNet", "build_sgnet"]
