"""The course's own tooling: the pretrained checkpoints of the notebooks, the student copies, and where the
notebooks are (``materials``: the repository's ``notebooks/`` or the copy a wheel installs)."""
