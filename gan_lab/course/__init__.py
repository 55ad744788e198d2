"""The course's own tooling: the pretrained checkpoints of the notebooks, and the student copies."""
