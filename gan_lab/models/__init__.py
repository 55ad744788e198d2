"""Pure ``nn.Module`` networks; losses and optimisers live elsewhere.

Importing this package registers every model so checkpoints can rebuild it.
"""

from .dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from .mlp import MLPDiscriminator, MLPGenerator
from .registry import build, model_config, register

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator", "build",
           "init_dcgan_weights", "model_config", "register"]
