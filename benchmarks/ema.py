"""What an exponential moving average of G's weights buys: FID and the two-sample test, G against its averages.

One DCGAN run with notebook 02's defaults (``GANConfig()``), trained with ``ema_decay=0`` so that its
G is the trained generator itself; beside it, torch's EMA (``AveragedModel`` with
``get_ema_multi_avg_fn``, as the trainer uses it) keeps one average per decay β, updated after every
G step. Every ``--every`` steps the clock stops and the trained G and each average draw the same
624 codes z, scored against PneumoniaMNIST's held-out test split: the domain FID
(``gan_lab.metrics``) and the classifier two-sample test's accuracy (0.5 = indistinguishable;
``gan_lab.metrics.two_sample``). Steps and process CPU seconds of training are recorded for each row,
so the result is also a time-to-quality curve.

Run from the repository root (one torch thread; about 10 min for 7000 steps on a 2-core CPU)::

    GAN_LAB_DATA=../shared/data python benchmarks/ema.py --steps 7000 --seed 1

It prints one JSON line per evaluation, writes ``benchmarks/ema_seed<seed>.json`` and redraws
``benchmarks/ema.png`` from every ``ema_seed*.json`` there (``--plot-only`` just redraws it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gan_lab.data import load
from gan_lab.metrics import feature_net
from gan_lab.metrics.fidelity import RealReference
from gan_lab.metrics.two_sample import two_sample_test
from gan_lab.train.common import draw_z, in_batches
from gan_lab.train.gan import GANConfig, new_run, train_gan

HERE = Path(__file__).resolve().parent


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7000)
    parser.add_argument("--every", type=int, default=1000, help="evaluate every this many steps")
    parser.add_argument("--decays", type=float, nargs="+", default=[0.99, 0.995, 0.999])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/ema_seed<seed>.json)")
    parser.add_argument("--plot-only", action="store_true", help="only redraw benchmarks/ema.png")
    args = parser.parse_args(argv)
    if args.plot_only:
        plot()
        return []
    torch.set_num_threads(1)  # CPU seconds of one thread: comparable on a shared machine

    train = load("pneumoniamnist", split="train", size=28)
    test = load("pneumoniamnist", split="test", size=28)
    reference = RealReference(test.images, feature_net("pneumoniamnist", 28, device="cpu", progress=False))
    config = GANConfig(num_steps=args.steps, callback_every=1, seed=args.seed, ema_decay=0)
    run = new_run(train, config, device="cpu")
    averages = {beta: AveragedModel(run.G, multi_avg_fn=get_ema_multi_avg_fn(beta), use_buffers=True)
                for beta in args.decays}
    z = draw_z(len(test.images), run.G.z_dim, "cpu", 123)
    rows, clock = [], {"train_s": 0.0, "since": time.process_time()}

    def evaluate(step: int) -> None:
        row = {"step": step, "train_cpu_s": round(clock["train_s"], 1)}
        for name, net in [("G", run.G)] + [(f"ema_{beta}", avg.module) for beta, avg in averages.items()]:
            fake = in_batches(net, z)
            row[name] = {"fid": round(reference.fid(fake), 3),
                         "two_sample_accuracy": round(two_sample_test(test.images, fake, device="cpu").accuracy, 3)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    def callback(step: int, history: dict) -> None:
        for avg in averages.values():
            avg.update_parameters(run.G)
        if step % args.every == 0:
            clock["train_s"] += time.process_time() - clock["since"]
            evaluate(step)
            clock["since"] = time.process_time()

    train_gan(train, config, run=run, callbacks=[callback], progress=False, device="cpu")
    out = Path(args.out) if args.out else HERE / f"ema_seed{args.seed}.json"
    out.write_text(json.dumps({"machine": {"cpu": platform.processor() or platform.machine(),
                                           "torch": torch.__version__, "threads": 1},
                               "data": "pneumoniamnist 28 px; scored against its test split (624 images)",
                               "config": f"GANConfig() defaults (Adam {config.lr_G:g}), ema_decay=0 (the averages "
                                         f"kept beside it)", "gan_config": dataclasses.asdict(config),
                               "seed": args.seed, "rows": rows}, indent=1))
    plot()
    return rows


def plot(folder: Path = HERE) -> Path | None:
    """FID and two-sample accuracy against training CPU seconds, one line per generator and seed: ``ema.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [json.loads(path.read_text()) for path in sorted(folder.glob("ema_seed*.json"))]
    if not results:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    names = [k for k in results[0]["rows"][0] if k not in ("step", "train_cpu_s")]
    for colour, name in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], names):
        for i, result in enumerate(results):
            seconds = [row["train_cpu_s"] for row in result["rows"]]
            for ax, metric in zip(axes, ("fid", "two_sample_accuracy")):
                ax.plot(seconds, [row[name][metric] for row in result["rows"]], marker=".", color=colour,
                        ls=("-", "--", ":")[i % 3], label=f"{name}, seed {result['seed']}")
    axes[0].set(yscale="log", xlabel="training CPU seconds (one thread)", ylabel="domain FID (log scale)",
                title="FID against held-out PneumoniaMNIST (lower is better)")
    axes[1].set(xlabel="training CPU seconds (one thread)", ylabel="held-out accuracy",
                title="two-sample test (0.5 = indistinguishable)")
    axes[1].axhline(0.5, color="grey", lw=0.8)
    axes[1].legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    out = folder / "ema.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    main()
