"""SGNet in pure PyTorch: S-Conv, backbones, variants and the official checkpoint mapping."""
