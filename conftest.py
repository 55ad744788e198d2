"""Test-session settings shared by the unit tests and the notebooks nbval executes.

Notebooks run in FAST mode (same code path, smaller numbers) unless the
caller sets GAN_LAB_FAST explicitly; kernels nbval starts inherit this
environment.
"""

import os

os.environ.setdefault("GAN_LAB_FAST", "1")
