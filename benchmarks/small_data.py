"""GANs for small data sets: the default DCGAN with and without DiffAugment, on a few hundred images.

Two small training sets: BreastMNIST's training split (546 ultrasound images) and a fixed random
500-image subset of PneumoniaMNIST's. For each, the default ``GANConfig()`` (with its average of G's
weights) trains ``--steps`` steps once per DiffAugment policy (Zhao et al. 2020), identical but for
``augment``: by default none, the paper's "color,translation,cutout", "translation" alone, and the
paper's policy made adaptive ("ada:color,translation,cutout": ADA's probability p, Karras et al. 2020,
steered to r_t = 0.6, with ``GANConfig``'s default ``ada_images``). The
samples of each run (``run.sample``, the same codes z) are scored against the data set's held-out test split:

* the domain FID and KID (``gan_lab.metrics``; the feature network of that data set);
* the classifier two-sample test's accuracy (0.5 = indistinguishable; ``gan_lab.metrics.two_sample``);
* memorisation: the fraction of samples closer (in pixels) to a training image than 99 % of the test
  images are, and the median ratio of the two nearest-neighbour distances (``gan_lab.metrics.memorisation``).

Run from the repository root (one torch thread; about 15 min on a 2-core CPU)::

    GAN_LAB_DATA=../shared/data python benchmarks/small_data.py --steps 3000 --seeds 0

It prints one JSON line per run and writes ``benchmarks/small_data.json`` (``--append``: only the runs
asked for are measured again; the file's other rows stay).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

from gan_lab.data import load
from gan_lab.metrics import feature_net
from gan_lab.metrics.fidelity import RealReference
from gan_lab.metrics.memorisation import memorisation
from gan_lab.metrics.two_sample import two_sample_test
from gan_lab.models.diffaugment import POLICY
from gan_lab.train.gan import GANConfig, train_gan

HERE = Path(__file__).resolve().parent
SUBSET = 500  # images of the PneumoniaMNIST subset


def training_sets() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """name → (training images, held-out test images)."""
    breast = load("breastmnist", split="train", size=28), load("breastmnist", split="test", size=28)
    pneumonia = load("pneumoniamnist", split="train", size=28), load("pneumoniamnist", split="test", size=28)
    subset = torch.randperm(len(pneumonia[0]), generator=torch.Generator().manual_seed(0))[:SUBSET]
    return {f"breastmnist ({len(breast[0])} images)": (breast[0].images, breast[1].images),
            f"pneumoniamnist, {SUBSET}-image subset": (pneumonia[0].images[subset], pneumonia[1].images)}


def score(run, train: torch.Tensor, test: torch.Tensor, reference: RealReference) -> dict:
    fake = run.sample(len(test), seed=123)
    report = memorisation(fake, train, test)
    return {**{k: round(v, 4) for k, v in reference.fid_kid(fake).items() if k in ("fid", "kid")},
            "two_sample_accuracy": round(two_sample_test(test, fake, device="cpu").accuracy, 3),
            "copies_flagged": round(report.flagged_fraction, 3), "nn_median_ratio": round(report.median_ratio, 3)}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--policies", nargs="+", default=["none", POLICY, "translation"],
                        help="DiffAugment policies to compare ('none' = no augmentation, 'ada:POLICY' = adaptive)")
    parser.add_argument("--out", default=str(HERE / "small_data.json"))
    parser.add_argument("--append", action="store_true", help="keep the rows of --out that this call does not redo")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for name, (train, test) in training_sets().items():
        flag = name.split()[0].rstrip(",")
        reference = RealReference(test, feature_net(flag, 28, device="cpu", progress=False))
        for seed in args.seeds:
            for policy in args.policies:
                ada_target = 0.6 if policy.startswith("ada:") else 0.0  # Karras et al.'s target
                augment = "" if policy == "none" else policy.removeprefix("ada:")
                start = time.process_time()
                run = train_gan(train, GANConfig(num_steps=args.steps, seed=seed, augment=augment,
                                                 ada_target=ada_target), device="cpu", progress=False)
                row = {"data": name, "seed": seed, "augment": policy, "steps": args.steps,
                       "train_cpu_s": round(time.process_time() - start, 1), **score(run, train, test, reference)}
                if ada_target:
                    row["final_p"] = round(run.history["p_augment"][-1], 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.append and Path(args.out).exists():
        redone = {(r["data"], r["seed"], r["augment"]) for r in rows}
        rows = [r for r in json.loads(Path(args.out).read_text())["rows"]
                if (r["data"], r["seed"], r["augment"]) not in redone] + rows
    shared = GANConfig(num_steps=args.steps)  # what every run had in common
    Path(args.out).write_text(json.dumps({"machine": {"cpu": platform.processor() or platform.machine(),
                                                      "torch": torch.__version__, "threads": 1},
                                          "config": describe(shared),
                                          "gan_config": dataclasses.asdict(shared),
                                          "rows": rows},
                                         indent=1))
    return rows


def describe(config: GANConfig) -> str:
    """The settings every run shared, in words (the file's ``gan_config`` has them all)."""
    return (f"GANConfig() defaults (Adam {config.lr_G:g}, average of G's weights β = {config.ema_decay:g}, "
            f"{config.num_steps} steps) but augment and ada_target")


if __name__ == "__main__":
    main()
