"""gan_lab: generative adversarial networks for medical image analysis, taught in Jupyter.

The few names the notebooks use::

    import gan_lab
    device = gan_lab.setup(seed=0)
    data = gan_lab.data.load("pneumoniamnist")
"""

from . import data
from .config import by_mode, fast_mode
from .device import get_device
from .session import setup

__version__ = "0.1.0"
__all__ = ["by_mode", "data", "fast_mode", "get_device", "setup"]
