"""Pure ``nn.Module`` networks; losses and optimisers live elsewhere.

Importing this package registers every model so checkpoints can rebuild it.
"""

from .classifier import DomainClassifier
from .conditional import ACGANDiscriminator, ConditionalDiscriminator, ConditionalGenerator, ProjectionDiscriminator
from .dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from .infogan import InfoGANDiscriminator, InfoGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .patchgan import PatchGANDiscriminator
from .progressive import ProgressiveDiscriminator, ProgressiveGenerator
from .red3d import Critic3D, RED3DGenerator
from .registration import RigidRegressor
from .registry import build, model_config, register
from .resnet import ResnetGenerator
from .segan import SegANCritic
from .sgan import SGANDiscriminator
from .srresnet import SRResNet
from .unet import UNet

__all__ = [
    "ACGANDiscriminator",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "Critic3D",
    "DomainClassifier",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "InfoGANDiscriminator",
    "InfoGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchGANDiscriminator",
    "ProgressiveDiscriminator",
    "ProgressiveGenerator",
    "ProjectionDiscriminator",
    "RED3DGenerator",
    "ResnetGenerator",
    "RigidRegressor",
    "SGANDiscriminator",
    "SegANCritic",
    "SRResNet",
    "UNet",
    "build",
    "init_dcgan_weights",
    "model_config",
    "register",
]
