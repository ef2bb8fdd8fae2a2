"""SGNet in pure PyTorch: S-Conv, backbones, variants and the official checkpoint mapping."""

from sgnet_ros.network.sgnet import VARIANTS, SGNet, build_sgnet

__all__ = ["VARIANTS", "SGNet", "build_sgnet"]
