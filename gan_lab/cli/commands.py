"""The training subcommands of ``python -m gan_lab``: train, sample, pretrain."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import checkpoints, config, viz
from ..precision import PRECISIONS, get_precision
from ..train.common import GAN_LOSSES
from ..train.gan import GANConfig, GANRun, checkpoint_meta, load_gan, train_gan
from ..train.loop import Terminated, TimeLimit
from .common import (
    SEED,
    UsageError,
    below_one,
    device_for,
    device_name,
    fraction,
    headless_plots,
    positive,
    subparser,
    whole,
    writable_file,
    writable_folder,
)
from .runs import check_resume, new_folder_removed_on_error, prepare_run_folder

SIZES = (28, 64, 128, 224)  # the MedMNIST sizes; DCGAN and phantoms support all of them


# ----------------------------------------------------------------------------------------------------- train
TORCHRUN_HELP = """\
several GPUs or processes (PyTorch DistributedDataParallel):
  torchrun --nproc_per_node=4 -m gan_lab train dcgan --data pneumoniamnist --size 64 --out runs/dcgan64
  torchrun --nproc_per_node=2 -m gan_lab train dcgan --data phantoms --out runs/ddp --device cpu
  Each process takes one GPU (nccl), or runs on the CPU (gloo). --batch-size stays the global
  batch: each of the N processes draws batch-size / N images per step (it must divide evenly),
  so --steps S sees as many images as one process would. DDP averages the gradients, so all
  copies of G and D stay identical; rank 0 alone prints and writes the run folder, and its
  checkpoint loads, and --resume continues, with any number of processes. Batch norm
  normalises over each process's own batch-size / N images: keep that at 16 or more."""


def add_train(sub) -> None:
    defaults = GANConfig()
    p = subparser(sub, "train", "Train an unconditional GAN and write its run folder.", """\
The run folder (--out) receives the checkpoint (checkpoint.json + weights-*.safetensors),
samples.png (64 samples from a fixed z), losses.png (loss and D-output curves) and
metrics.json (final losses, steps, seconds, images per second).

example:
  python -m gan_lab train dcgan --data pneumoniamnist --steps 3000 --out runs/dcgan
  python -m gan_lab train mlp --data phantoms --steps 500 --out runs/mlp --device cpu
  python -m gan_lab train dcgan --steps 100000 --minutes 3 --out runs/dcgan3min   # 3 minutes, however fast""")
    p.add_argument("arch", choices=("dcgan", "mlp"), help="dcgan: convolutional (Radford et al. 2016); "
                   "mlp: fully connected (Goodfellow et al. 2014)")
    p.add_argument("--data", default="pneumoniamnist",
                   help="dataset: a 2-D MedMNIST flag (pneumoniamnist, breastmnist, ...), phantoms or nuclei "
                        "(default: %(default)s)")
    p.add_argument("--out", required=True, type=Path, help="run folder to write (created if missing; a folder "
                   "that holds a run needs --resume or --overwrite)")
    p.add_argument("--steps", type=whole(0, 10**7), default=defaults.num_steps,
                   help="generator updates (default: %(default)s)")
    p.add_argument("--minutes", type=positive(24 * 60), default=None, help="stop after this many minutes of "
                   "training even if --steps is not reached (the checkpoint is saved; the same flags with --resume "
                   "train on); with a large --steps, every machine in a class trains for the same time (default: no "
                   "limit)")
    p.add_argument("--size", type=int, choices=SIZES, default=28, help="image side in pixels (default: %(default)s)")
    p.add_argument("--batch-size", type=whole(1, 4096), default=defaults.batch_size, help="images per step "
                   "(default: %(default)s)")
    p.add_argument("--lr", type=positive(1.0), default=defaults.lr_G, help="Adam learning rate of G and D "
                   "(default: %(default)s)")
    p.add_argument("--decay-start", type=fraction, default=defaults.decay_start, metavar="F",
                   help="the part of the run after which both learning rates fall linearly to 0 at its end, the end "
                        "being --steps or --minutes, whichever comes first (a --resume plans the decay again from its "
                        "own --steps and --minutes, so the rates can rise); 1 keeps them constant (default: "
                        "%(default)s)")
    p.add_argument("--ema-decay", type=below_one, default=defaults.ema_decay, metavar="BETA",
                   help="β of the moving average of G's weights that samples come from; 0 samples the trained G "
                        "(default: %(default)s)")
    p.add_argument("--width", type=whole(1, 1024), default=defaults.width,
                   help="network width: DCGAN channels, MLP hidden units / 8 (default: %(default)s)")
    p.add_argument("--z-dim", type=whole(1, 4096), default=defaults.z_dim, help="latent size (default: %(default)s)")
    p.add_argument("--loss", choices=GAN_LOSSES, default=defaults.loss, help="adversarial loss (default: %(default)s)")
    p.add_argument("--k", type=whole(1, 100), default=defaults.k, help="D updates per G update (default: %(default)s)")
    p.add_argument("--seed", type=SEED, default=defaults.seed, help="seed for weights and sampling "
                   "(default: %(default)s)")
    p.add_argument("--device", type=device_name, default=None, help="cpu, cuda, cuda:1 or mps (default: the best "
                   "available)")
    resume = p.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true", help="continue the checkpoint in --out up to --steps "
                        "(the other flags must match the stored run)")
    resume.add_argument("--overwrite", action="store_true", help="replace the run in --out with a new one (files "
                        "the run did not write are kept)")
    p.add_argument("--download", action="store_true", help="download a missing MedMNIST file")
    p.add_argument("--fallback", action="store_true", help="use procedural phantoms if the real data is missing "
                   "(default: stop with an error saying where to put the file)")
    p.add_argument("--fid-n", type=whole(0, 50_000), default=2000, metavar="N",
                   help="generated images for the FID/KID in metrics.json, against the real training split with "
                   "gan_lab's domain feature network (trained once per dataset and cached); 0 skips it "
                   "(default: %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default=None, help="bf16: train under bf16 autocast, faster "
                   "where the device computes bf16 in hardware (recent Xeons, Ampere GPUs or newer; `doctor` says) "
                   "(default: $GAN_LAB_PRECISION, else fp32)")
    p.add_argument("--backend", choices=("gloo", "nccl"), default=None, help="process-group backend of a run "
                   "started by torchrun (default: nccl on GPUs, gloo on the CPU)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.epilog = TORCHRUN_HELP
    p.set_defaults(handler=run_train, memory_flags="--batch-size (or --width, --size)")


def config_from_args(args: argparse.Namespace) -> GANConfig:
    """The GANConfig the ``train`` flags describe (flags left out keep GANConfig's defaults)."""
    try:
        return GANConfig(arch=args.arch, loss=args.loss, z_dim=args.z_dim, width=args.width,
                         batch_size=args.batch_size, num_steps=args.steps, k=args.k, lr_G=args.lr, lr_D=args.lr,
                         seed=args.seed, ema_decay=args.ema_decay, decay_start=args.decay_start)
    except ValueError as err:
        raise UsageError(str(err)) from None


def run_train(args: argparse.Namespace) -> int:
    from .. import distributed

    config = config_from_args(args)
    if args.minutes and distributed.launched():  # each process would stop at its own step: DDP would hang
        raise UsageError("--minutes stops each process on its own clock, which a torchrun job cannot do (the "
                         "processes must stop at the same step); give --steps instead.")
    if args.backend and not distributed.launched():
        raise UsageError(f"--backend {args.backend} applies to runs started by torchrun only (see train --help).")
    try:  # checked in every process before any of them waits for the others
        distributed.local_batch_size(config.batch_size, distributed.world_size())
    except distributed.DistributedError as err:
        raise UsageError(str(err)) from None
    with new_folder_removed_on_error(args.out):  # a refused run leaves no empty folder behind
        prepare_run_folder(args.out, resume=args.resume, overwrite=args.overwrite, write=distributed.is_main())
        return _load_and_train(args, config)


def _load_and_train(args: argparse.Namespace, config: GANConfig) -> int:
    from .. import data as datasets
    from .. import distributed

    try:
        data = datasets.load(args.data, split="train", size=args.size, download=args.download,
                             fallback=args.fallback)
    except datasets.DataUnavailableError as err:
        raise UsageError(f"{err} On the command line: add --download, or --fallback to train on phantoms.") from None
    if args.resume:
        check_resume(args.out, checkpoint_meta(config, data))
    if not distributed.launched():  # the device after the data: bad input fails first
        return _train(args, config, data, device_for(args.device, config.seed, not args.quiet, args.precision))
    try:
        parallel = distributed.start(args.device, args.backend)
    except distributed.DistributedError as err:
        raise UsageError(str(err)) from None
    try:
        device = device_for(parallel.device, config.seed, parallel.is_main and not args.quiet, args.precision)
        if parallel.is_main and not args.quiet:
            print(f"torchrun  {parallel.world_size} processes ({parallel.backend}), "
                  f"{parallel.local_batch_size(config.batch_size)} images each per step")
        return _train(args, config, data, device, parallel)
    finally:  # a finished run has left the group already; after an error or a signal, leave without waiting
        distributed.stop(together=False)


def _train(args: argparse.Namespace, config: GANConfig, data, device, parallel=None) -> int:
    """Train, then write the run folder (in a distributed run: rank 0 alone, once the replicas agree)."""
    first_step = checkpoints.stored_step(args.out) if args.resume else 0
    limit = TimeLimit(60 * args.minutes) if args.minutes else None
    if limit is not None and not args.quiet:  # the bar counts steps towards --steps, which it may never reach
        print(f"Training for {args.minutes:g} min, or up to step {config.num_steps} if that comes first")
    start = time.perf_counter()
    try:
        run = train_gan(data, config, device=device, checkpoint_dir=args.out, resume=args.resume,
                        stop_event=limit, progress=not args.quiet, parallel=parallel)
    except Terminated as stop:  # the checkpoint of the last step is written; end as the signal asked
        print(f"gan_lab train: {stop}: the checkpoint in {args.out} is saved; continue with --resume.",
              file=sys.stderr)
        return 128 + stop.signum
    seconds = time.perf_counter() - start
    interrupted = bool(run.history.get("interrupted"))  # Ctrl-C: the processes may have stopped at different steps
    checksums = None
    if parallel and not interrupted:
        from .. import distributed

        checksums = parallel.checksums({"G": run.G, "D": run.D})
        distributed.stop()  # all have finished training: leave together, before rank 0 spends time on the files
    if checksums and len(set(checksums)) > 1:  # DDP keeps them equal; anything else is a bug worth stopping for
        raise RuntimeError(f"the processes ended with different weights (parameter checksums {checksums}).")
    if parallel and not parallel.is_main:
        return 130 if interrupted else 0
    extra = {}
    if limit is not None:
        extra["time_limit"] = _time_limit_entry(limit, args, run.history["step"][-1], config.num_steps)
    if parallel:
        extra["distributed"] = {"processes": parallel.world_size, "backend": parallel.backend,
                                "batch_per_process": parallel.local_batch_size(config.batch_size),
                                "parameter_checksums": checksums}
    write_run_outputs(run, args.out, seconds, data.source, fid_n=args.fid_n, device=device, extra=extra,
                      first_step=first_step)
    print(f"Wrote {args.out}/: checkpoint, samples.png, losses.png, metrics.json")
    return 130 if run.history.get("interrupted") else 0  # Ctrl-C: saved, but the run did not finish


def _time_limit_entry(limit: TimeLimit, args: argparse.Namespace, step: int, num_steps: int) -> dict:
    """metrics.json's record of --minutes; says how to train on when the limit ended the run."""
    if limit.reached:
        print(f"Stopped at step {step} of {num_steps}: --minutes {args.minutes:g} has passed. Train on with the same "
              f"flags and --resume (--minutes again for another {args.minutes:g} min).")
    return {"minutes": args.minutes, "reached": limit.reached}


def write_run_outputs(run: GANRun, out: Path, seconds: float, data_source: str, fid_n: int = 0,
                      device=None, extra: dict | None = None, first_step: int = 0) -> dict:
    """samples.png, losses.png and metrics.json for a finished run; returns the metrics.

    With ``fid_n > 0`` the metrics gain "sample_quality": FID and KID of ``fid_n`` samples
    (see ``gan_lab.metrics.report.fid_kid_for_run``), or the reason they could not be measured.
    ``extra`` entries (how the run was launched or stopped) are added to the metrics as they are;
    ``first_step``: the step a resumed run started from (see :func:`train_metrics`).
    """
    headless_plots()
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "samples.png").write_bytes(viz.png_bytes(viz.image_grid(run.sample(64, seed=0)), scale=3))
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(10, 3))
    viz.plot_history(run.history, ["loss_D", "loss_G"], ax=ax_loss, title="losses")
    viz.plot_history(run.history, ["D(x)", "D(G(z))"], ax=ax_d, title="discriminator outputs")
    viz.save_figure(fig, out / "losses.png")
    metrics = train_metrics(run, seconds, data_source, first_step)
    if fid_n > 0:
        metrics["sample_quality"] = sample_quality(out, fid_n, device, data_source.startswith("phantom fallback"))
    metrics.update(extra or {})
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def sample_quality(out: Path, n: int, device, fell_back: bool) -> dict:
    """FID/KID of the run in ``out``, or ``{"skipped": why}`` when there is no real data to compare with."""
    from ..data import DataError
    from ..metrics.report import fid_kid_for_run

    if fell_back:
        return {"skipped": "trained on the phantom fallback: FID against the named dataset would be meaningless"}
    print(f"Measuring FID/KID with {n} samples (the first run on a dataset also trains its feature network)...")
    try:
        return fid_kid_for_run(out, n=n, device=device)
    except DataError as err:
        return {"skipped": str(err)}


def train_metrics(run: GANRun, seconds: float, data_source: str, first_step: int = 0) -> dict:
    """What training itself measures: last logged values, steps, time and throughput.

    ``seconds`` is this invocation's training time, which began at ``first_step`` (a resumed run's
    checkpoint; recorded as "resumed_from_step"): the throughput counts the steps made in it.
    Sample-quality metrics (FID, KID, ...) come from ``gan_lab.metrics``; they are
    added to this dict by the evaluation step, not computed here.
    """
    history, config = run.history, run.config
    steps_run = history["step"][-1] if history["step"] else 0
    final = {k: v[-1] for k, v in history.items() if k not in ("step", "interrupted") and v}
    images = (steps_run - first_step) * config.batch_size * (config.k + 1)  # k real batches for D, one fake for G
    return {"final": final, "steps": steps_run, **({"resumed_from_step": first_step} if first_step else {}),
            "samples_seen": steps_run * config.k * config.batch_size,  # real images D saw, over all processes
            "seconds": round(seconds, 2),
            "images_per_second": round(images / seconds, 1) if seconds > 0 else None,
            "data": run.data_name, "data_source": data_source, "config": dataclasses.asdict(config),
            "precision": get_precision(),
            "interrupted": bool(history.get("interrupted"))}


# ---------------------------------------------------------------------------------------------------- sample
def add_sample(sub) -> None:
    p = subparser(sub, "sample", "Draw samples from a trained run folder.", """\
--out decides the format: .png writes one image grid; .npz writes uint8 images under the
key "images" in MedMNIST's layout, (N, H, W) for grey or (N, H, W, C) for colour.

example:
  python -m gan_lab sample runs/dcgan --n 64 --out grid.png
  python -m gan_lab sample runs/dcgan --n 2000 --out samples.npz""")
    p.add_argument("run", type=Path, help="run folder written by `train` (holds checkpoint.json)")
    p.add_argument("--n", type=whole(1, 100_000), default=64, help="number of samples (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("samples.png"), help=".png grid or .npz array "
                   "(default: %(default)s)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of z (default: %(default)s)")
    p.add_argument("--scale", type=whole(1, 16), default=3, help="PNG enlargement factor (default: %(default)s)")
    p.add_argument("--device", type=device_name, default=None, help="cpu, cuda or mps (default: the best available)")
    p.set_defaults(handler=run_sample, memory_flags="--n")


def run_sample(args: argparse.Namespace) -> int:
    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npz"):
        raise UsageError(f"--out must end in .png (a grid) or .npz (an array), not {args.out.name!r}.")
    if not args.run.is_dir():
        raise UsageError(f"run folder {args.run} does not exist; train one with `python -m gan_lab train`.")
    writable_file(args.out, "--out")
    run = load_gan(args.run, device=device_for(args.device, args.seed))
    images = run.sample(args.n, seed=args.seed)
    if suffix == ".png":
        args.out.write_bytes(viz.png_bytes(viz.image_grid(images), scale=args.scale))
    else:
        np.savez_compressed(args.out, images=viz.to_uint8(images))
    print(f"Wrote {args.n} samples to {args.out}")
    return 0


# -------------------------------------------------------------------------------------------------- pretrain
def add_pretrain(sub) -> None:
    p = subparser(sub, "pretrain", "Train every checkpoint the notebooks load (skips up-to-date ones).", """\
Run it once before class: the notebooks then load their networks in seconds. Each entry
trains exactly what its notebook would (same data, same config) into
data/checkpoints/<name> (data/checkpoints/fast/<name> with --fast).

example:
  python -m gan_lab pretrain --list
  python -m gan_lab pretrain --only 02_dcgan""")
    p.add_argument("--fast", action="store_true", help="FAST-mode sizes (what CI runs), into a separate cache")
    p.add_argument("--only", action="append", metavar="NAME", help="only this checkpoint (repeatable)")
    p.add_argument("--list", action="store_true", help="list the checkpoint names and stop")
    p.set_defaults(handler=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:

    if args.fast:
        os.environ["GAN_LAB_FAST"] = "1"  # read when each entry builds its config
    from ..course import pretrained

    if args.list:
        for name, entry in pretrained.PRETRAINED.items():
            print(f"{name:<24} {entry.description}")
        return 0
    unknown = sorted(set(args.only or ()) - set(pretrained.PRETRAINED))
    if unknown:
        raise UsageError(f"unknown checkpoint {', '.join(unknown)}; choose from {', '.join(pretrained.PRETRAINED)}.")
    writable_folder(config.CHECKPOINT_DIR, "the checkpoint folder (set GAN_LAB_HOME to move it)")
    device_for(None, seed=0, verbose=True)  # device and $GAN_LAB_PRECISION checked (and shown) before any training
    for name in args.only or pretrained.PRETRAINED:
        print(f"== {name}: {pretrained.PRETRAINED[name].description}")
        pretrained.PRETRAINED[name].train()
    return 0
