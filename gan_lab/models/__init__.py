"""Pure ``nn.Module`` networks; losses and optimisers live elsewhere.

Importing this package registers every model so checkpoints can rebuild it.
"""

from .dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from .mlp import MLPDiscriminator, MLPGenerator
from .patchgan import PatchGANDiscriminator
from .registry import build, model_config, register
from .unet import UNet

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchGANDiscriminator",
    "UNet",
    "build",
    "init_dcgan_weights",
    "model_config",
    "register",
]
