"""Where do the default DCGAN's samples differ from real X-rays? The two-sample test after fixed transforms.

The classifier two-sample test (``gan_lab.metrics.two_sample``) says *whether* a classifier tells samples from
real images. Applying one fixed transform to *both* sets first asks where the difference lies: in the low band
(a blur), the high band (what the blur removed), the brightness and contrast of each image (standardised away),
or the histogram alone (each image's pixels shuffled or sorted, which destroys all structure). The radial power
spectra (``gan_lab.metrics.spectrum``) add how much energy each scale holds.

The generator is notebook 02's DCGAN trained for a fixed number of steps (not seconds, so the numbers do not
depend on the machine's speed), sampled from the average of its weights; the real side is the test split, as
in ``time_to_quality.py --two-sample``. Real training images against the test split are the baseline.

    GAN_LAB_DATA=../shared/data python benchmarks/where_fakes_differ.py              # about 9 min on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.time_to_quality import machine  # noqa: E402
from gan_lab.course.pretrained import notebook_02_configs  # noqa: E402
from gan_lab.data import load  # noqa: E402
from gan_lab.metrics.spectrum import frequency_bands, radial_power_spectrum  # noqa: E402
from gan_lab.metrics.two_sample import two_sample_test  # noqa: E402
from gan_lab.train.gan import train_gan  # noqa: E402

HERE = Path(__file__).resolve().parent


def standardised(x: torch.Tensor) -> torch.Tensor:
    """Each image with mean 0 and standard deviation 1 (clipped at ±3 sd, scaled to [-1, 1])."""
    mean, std = x.mean(dim=(1, 2, 3), keepdim=True), x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    return ((x - mean) / std).clamp(-3, 3) / 3


def shuffled(x: torch.Tensor) -> torch.Tensor:
    """Each image's pixels in a random order of its own: the histogram survives, every structure does not."""
    gen = torch.Generator().manual_seed(1)
    flat = x.flatten(1)
    order = torch.stack([torch.randperm(flat.shape[1], generator=gen) for _ in range(len(x))])
    return flat.gather(1, order).view_as(x)


def sorted_pixels(x: torch.Tensor) -> torch.Tensor:
    """Each image's pixels sorted: the histogram as an image, the same layout for every image."""
    return x.flatten(1).sort(dim=1).values.view_as(x)


def high_band(sigma: float) -> str:
    """The name of the high-band transform (it has a baseline, as "none" does)."""
    return f"high band (x - blur, sigma {sigma})"


def transforms(sigma: float) -> dict:
    """Name → transform applied to both sets before the test."""
    return {"none": lambda x: x,
            f"low band (blur, sigma {sigma})": lambda x: frequency_bands(x, sigma)[0],
            f"low band (blur, sigma {2 * sigma})": lambda x: frequency_bands(x, 2 * sigma)[0],
            high_band(sigma): lambda x: frequency_bands(x, sigma)[1],
            "each image standardised": standardised,
            "pixels shuffled within each image": shuffled,
            "pixels sorted within each image": sorted_pixels}


def accuracies(real: torch.Tensor, other: torch.Tensor, transform, split_seeds: list[int]) -> list[float]:
    a, b = transform(real), transform(other)
    return [round(two_sample_test(a, b, seed=s, device="cpu").accuracy, 3) for s in split_seeds]


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    train = load(args.data, split="train", size=args.size)
    test = load(args.data, split="test", size=args.size).images[:args.n]
    config = dataclasses.replace(notebook_02_configs()["dcgan"], seed=args.seed, num_steps=args.steps,
                                 checkpoint_every=0)
    start = time.perf_counter()
    run = train_gan(train, config, device="cpu", progress=False)
    seconds = time.perf_counter() - start
    fake = run.sample(len(test), seed=0)
    real_train = train.images[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:len(test)]]
    tests = {}
    for name, transform in transforms(args.sigma).items():
        tests[name] = {"fakes": accuracies(test, fake, transform, args.split_seeds)}
        if name in ("none", high_band(args.sigma)):  # the baseline where it is read
            tests[name]["real training images"] = accuracies(test, real_train, transform, args.split_seeds)
        print(f"{name:40s} {tests[name]}", flush=True)
    spectra = {k: radial_power_spectrum(v) for k, v in (("test", test), ("fakes", fake), ("train", real_train))}
    return {"settings": {"data": train.name, "source": train.source, "size": args.size, "steps": args.steps,
                         "seed": args.seed, "n": len(test), "split_seeds": args.split_seeds, "sigma": args.sigma,
                         "threads": torch.get_num_threads(), "train_seconds": round(seconds, 1),
                         "config": dataclasses.asdict(config)},
            "machine": machine(),
            "two_sample_accuracy": tests,
            # ring 0 holds no power (each image's mean is subtracted): the ratios start at ring 1
            "spectrum_ratio_to_test_from_ring_1": {k: [round(float(r), 3) for r in spectra[k][1:] / spectra["test"][1:]]
                                                   for k in ("fakes", "train")}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="pneumoniamnist")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--steps", type=int, default=8000, help="DCGAN steps (8000: about a 180-s run on 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=1000, help="real test images at most (and as many fakes)")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sigma", type=float, default=1.0, help="the blur that splits the bands (px)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "where_fakes_differ.json")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.n < 8:
        parser.error("need --steps >= 1 and --n >= 8")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = measure(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
