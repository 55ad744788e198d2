"""Speed benchmarks of gan_lab's trainers against plain PyTorch loops (run ``python benchmarks/bench.py``)."""
