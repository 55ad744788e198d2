"""How far the classifier two-sample test moves on one fixed generator: its own seed, and floats against 8 bits.

The time-to-quality runs score each configuration's seeds with one judge (``two_sample_test``'s seed 0). Part of
the spread between seeds is the judge's: which half of the images it trains on (312 + 312 for PneumoniaMNIST),
which it is tested on, and its own initial weights. This script holds each trained generator and one draw of its
fakes fixed (codes z from seed 0, as many as the test split of the run's data set has images: 624 for
PneumoniaMNIST) and runs the test with judge seeds 0 … K−1, each setting the split and the classifier's weights.
It scores the fakes twice: as the generator's floats, and rounded to the 256 grey levels the real images are stored
in (uint8), which tells whether the classifier reads the rounding.

Run from the repository root on a student's run (about 3 min of training, then about 12 s per test on 2 cores)::

    GAN_LAB_DATA=../shared/data python -m gan_lab train dcgan --steps 100000 --minutes 3 --out runs/judge0 --fid-n 0
    GAN_LAB_DATA=../shared/data python -m gan_lab train dcgan --steps 100000 --minutes 3 --seed 1 --out runs/judge1 \
        --fid-n 0
    GAN_LAB_DATA=../shared/data python benchmarks/two_sample_noise.py runs/judge0 runs/judge1 --seeds 0 1 2 3 4 5 6 7

It prints one line per judge seed and writes ``benchmarks/two_sample_noise.json``: each run's accuracies, and
the 8-bit-minus-float differences over all runs and judge seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.time_to_quality import judge  # noqa: E402
from gan_lab.data import load  # noqa: E402
from gan_lab.train.gan import load_gan  # noqa: E402

HERE = Path(__file__).resolve().parent


def to_8_bits(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] rounded to the 256 levels of a uint8 image, as the real images are stored."""
    return torch.round((images.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


def spread(values: list[float], m: int) -> dict:
    """Mean, standard deviation over the judge seeds, and the binomial standard error of one accuracy on m images."""
    mean = statistics.mean(values)
    return {"accuracies": values, "mean": round(mean, 4),
            "sd": round(statistics.stdev(values), 4) if len(values) > 1 else None,
            "binomial_se": round(math.sqrt(mean * (1 - mean) / m), 4)}


def measure_run(run_dir: Path, seeds: list[int]) -> dict:
    run = load_gan(run_dir, device="cpu")
    data = run.data_name
    real = load(data, split="test", size=run.sample(1).shape[-1]).images  # the held-out images of its data set
    fake = run.sample(len(real), seed=0)
    rows = {"float": [], "8-bit": []}
    for seed in seeds:
        rows["float"].append(judge(real, fake, seed))
        rows["8-bit"].append(judge(real, to_8_bits(fake), seed))
        print(f"judge seed {seed}: float {rows['float'][-1]:.3f}   8-bit {rows['8-bit'][-1]:.3f}", flush=True)
    m = 2 * (len(real) - len(real) // 2)  # the test half: as many real images as fakes
    return {"run": str(run_dir), "steps": run.history["step"][-1], "config": dataclasses.asdict(run.config),
            "data": data, "n_real": len(real), "seeds": seeds, "torch_threads": torch.get_num_threads(),
            **{kind: spread(values, m) for kind, values in rows.items()},
            "differences_8bit_minus_float": [round(b - a, 4) for a, b in zip(rows["float"], rows["8-bit"])]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders written by `python -m gan_lab train`")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)), help="judge seeds")
    parser.add_argument("--out", type=Path, default=HERE / "two_sample_noise.json")
    args = parser.parse_args(argv)
    runs = []
    for run_dir in args.runs:
        runs.append(measure_run(run_dir, args.seeds))
        for kind in ("float", "8-bit"):
            r = runs[-1][kind]
            print(f"{run_dir} {kind}: mean {r['mean']:.3f}, sd over judge seeds {r['sd']}, "
                  f"binomial se {r['binomial_se']}")
    differences = [d for run in runs for d in run["differences_8bit_minus_float"]]
    result = {"runs": runs, "all_differences": {"n": len(differences), "mean": round(statistics.mean(differences), 4),
                                                "lower": sum(d < 0 for d in differences),
                                                "higher": sum(d > 0 for d in differences)}}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"8-bit minus float over all runs and judge seeds: {result['all_differences']}\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
