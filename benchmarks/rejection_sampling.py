"""Discriminator rejection sampling against plain sampling, on the same trained networks.

Each configuration (a name from ``time_to_quality.candidates()``) trains for ``--budget`` seconds of wall time;
the trained run is then judged twice: its samples as drawn (``GANRun.sample``) and those that discriminator
rejection sampling keeps (``gan_lab.train.rejection``, with the run's own D). Both draws get the FID against the
training images (codes from seed 0) and ``--judges`` classifier two-sample tests against the test split (judge s:
codes from seed s), as ``time_to_quality.py`` scores them, so the two ways of sampling are compared on one G.

Run from the repository root, on an otherwise idle machine (the budget is wall time)::

    GAN_LAB_DATA=../shared/data python benchmarks/rejection_sampling.py --seeds 0 1 2 3 \\
        --out benchmarks/rejection_sampling.json

``--merge a.json b.json --out c.json`` combines invocations (other seeds, same settings); either way it prints
a table per configuration and the paired comparisons.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: the repository root on the path, for benchmarks.*
    sys.path.insert(0, str(HERE.parent))

from benchmarks import time_to_quality as ttq  # noqa: E402
from gan_lab.data import load  # noqa: E402
from gan_lab.metrics import feature_net  # noqa: E402
from gan_lab.metrics.fidelity import RealReference  # noqa: E402
from gan_lab.train.gan import GANRun, train_gan  # noqa: E402
from gan_lab.train.rejection import PERCENTILE, rejection_sample  # noqa: E402

SAMPLERS = ("plain", "drs")
SAME_SETTINGS = ("budget", "threads", "n", "data", "size", "judges", "percentile")  # what files to merge must share


def train_for(data, config, seconds: float) -> tuple[GANRun, int]:
    """``config`` trained on ``data`` for ``seconds`` of wall time (on the CPU, no checkpoints), and its steps."""
    run, config, clock, stop = ttq.budgeted_run(data, config, "wall", seconds)
    steps = [0]

    def stop_at_budget(step: int, history: dict) -> None:
        steps[0] = step
        if clock.seconds() >= seconds:
            stop.set()

    clock.start()
    train_gan(data, config, device="cpu", callbacks=[stop_at_budget], stop_event=stop, progress=False, run=run)
    return run, steps[0]


def draws(run: GANRun, sampler: str, n: int, seed: int) -> tuple[torch.Tensor, float]:
    """``n`` fakes from codes of ``seed``, and the fraction of proposals kept (1 for plain sampling)."""
    if sampler == "plain":
        return run.sample(n, seed=seed), 1.0
    return rejection_sample(run.generator, run.D, run.G.z_dim, n, seed=seed, batch_size=run.config.batch_size)


def judged(run: GANRun, sampler: str, reference: RealReference, test: torch.Tensor, n: int, judges: int) -> dict:
    """FID (codes of seed 0) and the two-sample accuracy of each judge (judge s: codes of seed s)."""
    start = time.perf_counter()
    fakes = [draws(run, sampler, n, seed) for seed in range(judges)]
    accuracies = [ttq.judge(test, fake[:len(test)], seed) for seed, (fake, _) in enumerate(fakes)]
    return {"fid": round(reference.fid(fakes[0][0]), 3), "two_sample_accuracy": round(statistics.mean(accuracies), 4),
            "two_sample_accuracies": [round(a, 4) for a in accuracies],
            "kept": [round(kept, 4) for _, kept in fakes], "seconds": round(time.perf_counter() - start, 1)}


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    data = load(args.data, split="train", size=args.size)
    reference = RealReference(data.images, feature_net(args.data, args.size, device="cpu", progress=False))
    test = load(args.data, split="test", size=args.size).images[:args.n]
    result = {"settings": {"budget": args.budget, "threads": torch.get_num_threads(), "n": args.n, "data": data.name,
                           "size": args.size, "judges": args.judges, "percentile": PERCENTILE, "seeds": args.seeds},
              "machine": ttq.machine(),
              "configs": {name: {"config": dataclasses.asdict(ttq.candidates()[name]), "runs": []}
                          for name in args.configs}}
    for seed in args.seeds:  # seeds outermost: a change of machine load hits every config alike
        for name in args.configs:
            load_start = ttq.load_average()
            run, steps = train_for(data, dataclasses.replace(ttq.candidates()[name], seed=seed), args.budget)
            entry = {"seed": seed, "step": steps, "load_average": {"start": load_start, "end": ttq.load_average()}}
            entry |= {sampler: judged(run, sampler, reference, test, args.n, args.judges) for sampler in SAMPLERS}
            result["configs"][name]["runs"].append(entry)
            print(f"{name} seed {seed}: {steps} steps; " + "; ".join(
                f"{s} FID {entry[s]['fid']:.2f} accuracy {entry[s]['two_sample_accuracy']:.3f}" for s in SAMPLERS),
                flush=True)
    return result


def merge(paths: list[Path]) -> dict:
    """Invocations with the same settings (other seeds) as one result (``time_to_quality.merge``'s checks)."""
    return ttq.merge(paths, same=SAME_SETTINGS, complete=dict)


def rows(result: dict) -> list[tuple[str, list[dict]]]:
    """(name, runs) for every configuration and sampler, each run as ``time_to_quality`` stores one: ``{"seed",
    "curve": [point]}``, its one point the sampler's ``{"step", "fid", "two_sample_accuracy", ...}``."""
    return [(f"{name} ({sampler})", [{"seed": r["seed"], "curve": [{"step": r["step"], **r[sampler]}]}
                                     for r in entry["runs"]])
            for name, entry in result["configs"].items() for sampler in SAMPLERS]


def table(result: dict) -> str:
    """Each configuration and sampler over the seeds, then each against the first configuration's plain samples."""
    s = result["settings"]
    lines = [f"{s['data']} {s['size']} px, {s['budget']:g} s wall on {s['threads']} threads, seeds {s['seeds']}, "
             f"{s['judges']} judges, FID n={s['n']}",
             f"{'configuration (sampler)':<44} {'steps':>13} {'FID mean [min, max]':>22} "
             f"{'accuracy mean [min, max]':>26}"]
    for name, runs in rows(result):
        steps, fid, acc = ([r["curve"][-1][k] for r in runs] for k in ("step", "fid", "two_sample_accuracy"))
        lines.append(f"{name:<44} {min(steps):>6,}–{max(steps):<6,} {statistics.mean(fid):>7.2f} "
                     f"[{min(fid):.2f}, {max(fid):.2f}] {statistics.mean(acc):>9.3f} [{min(acc):.3f}, {max(acc):.3f}]")
    (base_name, base), *others = rows(result)
    for name, runs in others:
        pairs = ttq.paired(runs, base)
        acc, fid = pairs["two_sample_accuracy"], pairs["fid"]
        lines.append(f"{name} − {base_name}: accuracy {acc['mean']:+.3f} (lower on {acc['lower']} of "
                     f"{len(pairs['seeds'])}, p = {acc['wilcoxon_p_lower']:.3f}), FID {fid['mean']:+.2f} "
                     f"(lower on {fid['lower']})")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=180.0, help="wall seconds of training per run")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--n", type=int, default=1000, help="fakes per FID and per judge")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--configs", nargs="+", default=["notebook_02", "notebook_02_dw48_resize_last"],
                        help="names from time_to_quality.candidates()")
    parser.add_argument("--judges", type=int, default=4)
    parser.add_argument("--data", default="pneumoniamnist")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--out", type=Path, default=HERE / "rejection_sampling.json")
    parser.add_argument("--merge", type=Path, nargs="+", help="combine these result files instead of measuring")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.configs) - set(ttq.candidates()))
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {', '.join(ttq.candidates())}")
    if args.budget <= 0 or args.n < 2 or args.judges < 1 or args.threads < 1:
        parser.error("need --budget > 0, --n ≥ 2, --judges ≥ 1 and --threads ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = merge(args.merge) if args.merge else measure(args)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
