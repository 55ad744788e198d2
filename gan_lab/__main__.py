"""``python -m gan_lab``: see :mod:`gan_lab.cli`."""

import sys

from .cli import main

sys.exit(main())
