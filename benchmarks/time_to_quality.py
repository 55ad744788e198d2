"""Time to quality: FID against seconds of CPU training for DCGAN configurations, side by side.

Each configuration trains on the same data (``gan_lab.train.gan.train_gan``)
for a fixed budget of training seconds; a ``fit`` callback pauses the clock
every ``--every`` seconds, scores 1000 samples from fixed codes z with the
domain feature network's FID (``gan_lab.metrics``), and restarts the clock,
so evaluation never eats into the budget. The result is one curve of FID
against seconds per configuration and seed.

``--two-sample`` also scores each evaluation with the classifier two-sample test against the test split, and
``--judges K`` with K such tests (seeds 0 … K−1, each its own split, classifier and draw of fakes), averaged: one
judge's verdict on one generator moves by several hundredths from seed to seed. ``--prdc`` adds precision, recall,
density and coverage (``gan_lab.metrics.prdc``, k = 5) of the FID's fakes against as many training images: whether
a configuration's samples gained in fidelity (precision, density) or in diversity (recall, coverage).

The budget is **process CPU time** by default (``--clock cpu``), with one
torch thread: on a shared machine wall time counts the other users' work,
CPU time only this process's. ``--clock wall`` is there for an idle machine.

Run from the repository root::

    GAN_LAB_DATA=../shared/data python benchmarks/time_to_quality.py --budget 120 --seeds 0 1

It prints a table, writes ``benchmarks/time_to_quality.json`` and the plot
``benchmarks/time_to_quality.png``. On a machine with free cores, run one
process per configuration and seed (``--out run_a.json --plot ''``) and
combine them with ``--merge run_a.json run_b.json ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import threading
import time
from pathlib import Path

import torch

from gan_lab.course.pretrained import notebook_02_configs
from gan_lab.data import load
from gan_lab.metrics import feature_net
from gan_lab.metrics.fidelity import RealReference
from gan_lab.metrics.prdc import prdc
from gan_lab.metrics.two_sample import default_config, two_sample_test
from gan_lab.models.diffaugment import POLICY
from gan_lab.precision import PRECISIONS, use_precision
from gan_lab.train.gan import GANConfig, GANRun, new_run, train_gan

HERE = Path(__file__).resolve().parent

#: the widely copied DCGAN recipe (PyTorch's DCGAN example and dcgan.torch; Radford et al. 2016 used batch 128):
#: 64 feature maps, z ∈ R^100,
#: batch 64, Adam 2e-4 with β = (0.5, 0.999), one D step per G step, non-saturating loss.
REFERENCE = GANConfig(arch="dcgan", loss="nonsaturating", width=64, z_dim=100, batch_size=64, k=1,
                      lr_G=2e-4, lr_D=2e-4, beta1=0.5, beta2=0.999, ema_decay=0)  # samples from G itself


def candidates() -> dict[str, GANConfig]:
    """Every configuration the benchmark knows, by name ("notebook_02" is whatever notebook 02 uses now)."""
    base = dataclasses.replace(REFERENCE, width=32, z_dim=64)  # notebook 02's DCGAN before this benchmark
    nb02 = notebook_02_configs()["dcgan"]  # what notebook 02 trains now
    # D of width 48 with G's 3×3 convolution at 28 px: the base of several candidates below
    dw48_fullres_G = dataclasses.replace(nb02, width_D=48, full_res_conv_G=True)
    dw48_fullres_G_sa_D = dataclasses.replace(dw48_fullres_G, self_attention_D=True)
    # notebook 02's DCGAN before the two-sample runs chose its learning rate and average
    earlier = dataclasses.replace(nb02, lr_G=2e-4, lr_D=2e-4, ema_decay=0.99)
    return {
        "notebook_02": nb02,
        "notebook_02_no_ema": dataclasses.replace(nb02, ema_decay=0),
        "notebook_02_diffaugment": dataclasses.replace(nb02, augment=POLICY),
        "notebook_02_lr6e-4": dataclasses.replace(nb02, lr_G=6e-4, lr_D=6e-4),  # measured after the change to 4e-4
        "notebook_02_dw48_resize_last": dataclasses.replace(nb02, width_D=48, upsample="resize_last"),  # after 6e-4
        "notebook_02_resize_last": dataclasses.replace(nb02, upsample="resize_last"),  # after dw48_resize_last
        "notebook_02_dw40_resize_last": dataclasses.replace(nb02, width_D=40, upsample="resize_last"),  # after that
        "notebook_02_b16": dataclasses.replace(nb02, batch_size=16),  # after that: ≈1.5 times the steps per second
        "notebook_02_lookahead": dataclasses.replace(nb02, lookahead_k=5, lookahead_alpha=0.5),  # Chavdarova et al.
        "notebook_02_ema0.998": dataclasses.replace(nb02, ema_decay=0.998),  # after lookahead
        "notebook_02_reuse": dataclasses.replace(nb02, reuse_fakes=True),  # after that: one G forward less a step
        "notebook_02_reuse_ema0.998": dataclasses.replace(nb02, reuse_fakes=True, ema_decay=0.998),
        # after those: the average's memory grows with the run (StyleGAN2-ADA's ramp-up), capped at β = 0.999
        "notebook_02_ema_ramp0.05": dataclasses.replace(nb02, ema_decay=0.999, ema_rampup=0.05),
        "notebook_02_reuse_ema_ramp0.05": dataclasses.replace(nb02, reuse_fakes=True, ema_decay=0.999,
                                                              ema_rampup=0.05),  # after both
        # after those: both rates fall linearly to 0 over the last half (CycleGAN's proportion) / quarter of the budget
        "notebook_02_decay0.5": dataclasses.replace(nb02, decay_start=0.5),
        "notebook_02_decay0.75": dataclasses.replace(nb02, decay_start=0.75),
        # after those: reused fakes with β = 0.998 (lower accuracy, higher FID) and the decay (lower FID)
        "notebook_02_reuse_ema0.998_decay0.5": dataclasses.replace(nb02, reuse_fakes=True, ema_decay=0.998,
                                                                   decay_start=0.5),
        # after those, with four judges a run: capacity at the full 28 px (one more 3×3 convolution) in G or D
        "notebook_02_fullres_G": dataclasses.replace(nb02, full_res_conv_G=True),
        "notebook_02_fullres_D": dataclasses.replace(nb02, full_res_conv_D=True),
        "notebook_02_fullres_GD": dataclasses.replace(nb02, full_res_conv_G=True, full_res_conv_D=True),  # after both
        # after that: the convolution in G (lower FID) with D of width 48 (lower accuracy: notebook_02_dw48_resize_last)
        "notebook_02_dw48_fullres_G": dw48_fullres_G,
        # after that: between the default's D (width 32) and 48, to trade less FID for the lower accuracy
        "notebook_02_dw40_fullres_G": dataclasses.replace(nb02, width_D=40, full_res_conv_G=True),
        # after that: Progressive GAN's minibatch standard deviation in D (groups of 4), alone and on dw48_fullres_G
        "notebook_02_mbstd": dataclasses.replace(nb02, minibatch_std=4),
        "notebook_02_dw48_fullres_G_mbstd": dataclasses.replace(dw48_fullres_G, minibatch_std=4),
        # after the equal-steps diagnostic: dw48_fullres_G with both rates falling to 0 over the last half
        "notebook_02_dw48_fullres_G_decay0.5": dataclasses.replace(dw48_fullres_G, decay_start=0.5),
        # after that: D's rate twice G's (Heusel et al. 2017's two time scales), meant as a stronger D at no step cost
        "notebook_02_lrD8e-4": dataclasses.replace(nb02, lr_D=8e-4),
        # after rejection sampling: D's batch norm over real and fake images together, in both players' updates
        "notebook_02_mixed": dataclasses.replace(nb02, mixed_batches=True),
        # after the PRDC diagnostic: top-k training (Sinha et al. 2020), at no step cost, alone and on the wider D
        "notebook_02_topk": dataclasses.replace(nb02, top_k=0.5),
        "notebook_02_dw48_fullres_G_topk": dataclasses.replace(dw48_fullres_G, top_k=0.5),
        # after top-k: D shown a history of G's fakes (Shrivastava et al. 2017; CycleGAN's pool of 50), no step cost
        "notebook_02_pool50": dataclasses.replace(nb02, pool_size=50),
        "notebook_02_pool500": dataclasses.replace(nb02, pool_size=500),
        # after the pools (looking back in what is trained hurt): Adam without its first moment, both players
        "notebook_02_beta1_0": dataclasses.replace(nb02, beta1=0.0),
        # after that (0 was far worse than the DCGAN paper's 0.5): more momentum instead
        "notebook_02_beta1_0.7": dataclasses.replace(nb02, beta1=0.7),
        # after that: SAGAN's self-attention (Zhang et al. 2019) on the 7×7 maps, in both networks and in G alone
        "notebook_02_sa": dataclasses.replace(nb02, self_attention_G=True, self_attention_D=True),
        "notebook_02_sa_G": dataclasses.replace(nb02, self_attention_G=True),
        # after those two (the layer in both networks lowered FID, in G alone it did not): in D alone
        "notebook_02_sa_D": dataclasses.replace(nb02, self_attention_D=True),
        # after that (D's layer lowered FID on every seed, the accuracy rose): D's layer on the wider D, whose accuracy
        # fell and FID rose, to see whether the two effects trade
        "notebook_02_dw48_fullres_G_sa_D": dw48_fullres_G_sa_D,
        # after its eight seeds (both means lower, its accuracy 0.712, above the aim): a wider D still (the largest
        # lever on the accuracy so far), and the longer average of G's weights, which costs no steps
        "notebook_02_dw64_fullres_G_sa_D": dataclasses.replace(dw48_fullres_G_sa_D, width_D=64),
        "notebook_02_dw48_fullres_G_sa_D_ema0.998": dataclasses.replace(dw48_fullres_G_sa_D, ema_decay=0.998),
        # after the eight seeds of width 64 (lower accuracy on every seed, 0.697, just above the aim): width 80
        "notebook_02_dw80_fullres_G_sa_D": dataclasses.replace(dw48_fullres_G_sa_D, width_D=80),
        # width 64 without D's layer, beside width 64 with it: what the layer itself contributes, and more steps
        "notebook_02_dw64_fullres_G": dataclasses.replace(dw48_fullres_G, width_D=64),
        # after that (the layer kept FID down at width 64, width 80 raised it): width 72, and top-k on width 64
        "notebook_02_dw72_fullres_G_sa_D": dataclasses.replace(dw48_fullres_G_sa_D, width_D=72),
        "notebook_02_dw64_fullres_G_sa_D_topk": dataclasses.replace(dw48_fullres_G_sa_D, width_D=64, top_k=0.5),
        # after those (width 64 with the layer at 0.696–0.697 twice, wider D losing FID to its fewer steps): G widened
        # to 48 and to 64 (every candidate on this default before kept G's width at 32; the fakes are told from real
        # images most easily by their fine detail, which G's last layers make)
        "notebook_02_dw64_fullres_G_sa_D_gw48": dataclasses.replace(dw48_fullres_G_sa_D, width=48, width_D=64),
        "notebook_02_dw64_fullres_G_sa_D_gw64": dataclasses.replace(dw48_fullres_G_sa_D, width=64, width_D=64),
        "earlier_default": earlier,
        "earlier_default_no_ema": dataclasses.replace(earlier, ema_decay=0),
        "earlier_default_ema0.995": dataclasses.replace(earlier, ema_decay=0.995),
        "earlier_default_ema0.999": dataclasses.replace(earlier, ema_decay=0.999),
        "earlier_default_w48_ema0.995": dataclasses.replace(earlier, width=48, ema_decay=0.995),
        "earlier_default_r1_0.01": dataclasses.replace(earlier, lambda_r1=0.01),
        "earlier_default_r1_0.1": dataclasses.replace(earlier, lambda_r1=0.1),
        "earlier_default_r1_0.01_ema0.995": dataclasses.replace(earlier, lambda_r1=0.01, ema_decay=0.995),
        "earlier_default_sn": dataclasses.replace(earlier, spectral_norm=True),  # Miyato et al. 2018's D: SN, no BN
        "earlier_default_resize": dataclasses.replace(earlier, upsample="resize"),  # Odena et al. 2016's G
        "earlier_default_b64_ema0.995": dataclasses.replace(earlier, batch_size=64, ema_decay=0.995),
        "earlier_default_ttur": dataclasses.replace(earlier, lr_G=1e-4, lr_D=4e-4),  # two time scales, SAGAN's rates
        "earlier_default_lrG1e-4": dataclasses.replace(earlier, lr_G=1e-4),
        "earlier_default_betas0_0.99": dataclasses.replace(earlier, beta1=0.0, beta2=0.99),  # StyleGAN2's Adam
        "earlier_default_lsgan": dataclasses.replace(earlier, loss="least_squares"),  # Mao et al. 2017
        "earlier_default_k2": dataclasses.replace(earlier, k=2),
        "earlier_default_betas0_0.99_ema0.995": dataclasses.replace(earlier, beta1=0.0, beta2=0.99, ema_decay=0.995),
        "earlier_default_betas0_0.99_lr4e-4_ema0.995": dataclasses.replace(earlier, beta1=0.0, beta2=0.99, lr_G=4e-4,
                                                                           lr_D=4e-4, ema_decay=0.995),
        "reference": REFERENCE,
        "w32_b64": base,
        "w32_b32": dataclasses.replace(base, batch_size=32),
        "w16_b64": dataclasses.replace(base, width=16),
        "w32_b64_lr5e-4": dataclasses.replace(base, lr_G=5e-4, lr_D=5e-4),
        "w32_b32_lr5e-4": dataclasses.replace(base, batch_size=32, lr_G=5e-4, lr_D=5e-4),
        "w32_b64_ttur": dataclasses.replace(base, lr_G=1e-4, lr_D=4e-4),  # two time scales at SAGAN's rates
        "w32_b64_beta2_0.99": dataclasses.replace(base, beta2=0.99),
        "w16_b32_lr5e-4": dataclasses.replace(base, width=16, batch_size=32, lr_G=5e-4, lr_D=5e-4),
    }


def split_name(name: str) -> tuple[str, str]:
    """("notebook_02", "bf16") for "notebook_02@bf16": a configuration trained in a precision (default fp32)."""
    base, _, precision = name.partition("@")
    return base, precision or "fp32"


class TrainingClock:
    """Wall and CPU seconds spent training; ``paused()`` stops both while something else (evaluation) runs."""

    def __init__(self, kind: str):
        if kind not in ("cpu", "wall"):
            raise ValueError(f"clock must be 'cpu' or 'wall', not {kind!r}.")
        self.kind, self.spent, self.since = kind, {"wall": 0.0, "cpu": 0.0}, None

    @staticmethod
    def _now() -> dict[str, float]:
        return {"wall": time.perf_counter(), "cpu": time.process_time()}  # process time: all threads of this process

    def start(self) -> None:
        self.since = self._now()

    def stop(self) -> None:
        now = self._now()
        for k in self.spent:
            self.spent[k] += now[k] - self.since[k]
        self.since = None

    def read(self) -> dict[str, float]:
        """Seconds so far, ``{"wall", "cpu"}``."""
        now = self._now() if self.since is not None else None
        return {k: v + (now[k] - self.since[k] if now else 0.0) for k, v in self.spent.items()}

    def seconds(self) -> float:
        """Seconds so far on the clock that sets the budget."""
        return self.read()[self.kind]


class Budget(threading.Event):
    """The event ``train_gan`` watches, set once the budget is spent; ``fraction()`` is the part spent so far on
    the training clock, which a decaying learning rate (``GANConfig.decay_start``) reads as it reads a
    ``TimeLimit``'s."""

    def __init__(self, clock: TrainingClock, budget: float):
        super().__init__()
        self.clock, self.budget = clock, budget

    def fraction(self) -> float:
        return self.clock.seconds() / self.budget


def judge(real: torch.Tensor, fake: torch.Tensor, seed: int) -> float:
    """The two-sample accuracy by judge ``seed``: the seed sets its split and its classifier's initial weights.

    Judge 0 is ``two_sample_test``'s defaults, the judge of every file measured before ``--judges``.
    """
    cfg = dataclasses.replace(default_config(), seed=seed)
    return two_sample_test(real, fake, cfg=cfg, seed=seed, device="cpu").accuracy


#: neighbours of precision, recall, density and coverage (Naeem et al. 2020 recommend 5)
PRDC_K = 5
PRDC = ("precision", "recall", "density", "coverage")


class QualityCurve:
    """A ``fit`` callback (call it every step): FID every ``every`` training seconds; stops training at ``budget``.

    Args:
        run: the GANRun being trained (its G is sampled from codes z fixed by ``seed=0``, so the
            curve follows G, not the draw of z).
        reference: the real side of FID, computed once.
        clock: the training clock; paused while FID is computed.
        budget, every: seconds of training in all, and between two evaluations.
        n: fakes per FID (compare FIDs only at equal n).
        stop: the event ``train_gan`` watches.
        held_out: real images the generator never saw; when given, each evaluation also runs the classifier
            two-sample test (``gan_lab.metrics.two_sample``) of as many fakes against them.
        judges: how many judges (``judge`` seeds 0, 1, …) score each evaluation; judge s draws its own fakes
            (codes from seed s; judge 0 the FID's), and the point holds their mean. One judge's verdict on one
            generator moves by several hundredths between seeds (``two_sample_noise.py``). The untrained G
            (step 0) is judged by judge 0 alone: every judge tells it from real images (1.0 in every stored run).
        prdc_real: features (by the reference's network) of real images; when given, each evaluation also holds
            the precision, recall, density and coverage of the FID's fakes against them (k = ``PRDC_K``).
    """

    def __init__(self, run: GANRun, reference: RealReference, clock: TrainingClock, budget: float, every: float,
                 n: int, stop: threading.Event, held_out: torch.Tensor | None = None, judges: int = 1,
                 prdc_real: torch.Tensor | None = None):
        self.run, self.reference, self.clock, self.n, self.stop = run, reference, clock, n, stop
        self.held_out, self.judges, self.prdc_real = held_out, judges, prdc_real
        self.budget, self.every, self.next_at, self.points = budget, every, every, []

    def evaluate(self, step: int) -> None:
        self.clock.stop()
        seconds = self.clock.read()
        fake = self.run.sample(self.n, seed=0)
        point = {"seconds": round(seconds[self.clock.kind], 2), "wall_seconds": round(seconds["wall"], 2),
                 "cpu_seconds": round(seconds["cpu"], 2), "step": step, "fid": round(self.reference.fid(fake), 3)}
        if self.held_out is not None:
            point |= self.judged(fake, step)
        if self.prdc_real is not None:
            scores = prdc(self.prdc_real, self.reference.phi.features(fake), k=PRDC_K)
            point["prdc"] = {name: round(value, 4) for name, value in scores.items()}
        self.points.append(point)
        self.clock.start()

    def judged(self, fake: torch.Tensor, step: int) -> dict:
        """The two-sample accuracy, the mean over the judges (and each judge's, where there are several)."""
        accuracies = []
        for seed in range(self.judges if step > 0 else 1):
            draw = fake if seed == 0 else self.run.sample(self.n, seed=seed)
            accuracies.append(judge(self.held_out, draw[:len(self.held_out)], seed))
        point = {"two_sample_accuracy": round(statistics.mean(accuracies), 3)}
        return point | ({"two_sample_accuracies": [round(a, 4) for a in accuracies]} if self.judges > 1 else {})

    def __call__(self, step: int, history: dict) -> None:
        seconds = self.clock.seconds()
        if seconds >= min(self.next_at, self.budget):
            self.evaluate(step)
            while self.next_at <= seconds:
                self.next_at += self.every
        if seconds >= self.budget:
            self.stop.set()


def budgeted_run(data, config: GANConfig, clock: str,
                 budget: float) -> tuple[GANRun, GANConfig, TrainingClock, Budget]:
    """A new run of ``config`` on the CPU, the config it is to be trained with, its clock (not started) and the
    ``Budget`` that ``train_gan``'s ``stop_event`` watches: a callback must set it once the clock reads ``budget``."""
    # callback every step (the clock is read each step), no checkpoints, and enough steps never to end first
    config = dataclasses.replace(config, num_steps=10**9, callback_every=1, checkpoint_every=0)
    run, timer = new_run(data, config, device="cpu"), TrainingClock(clock)
    return run, config, timer, Budget(timer, budget)


def time_to_quality(data, config: GANConfig, reference: RealReference, budget: float, every: float, n: int,
                    clock: str = "cpu", held_out: torch.Tensor | None = None, judges: int = 1,
                    prdc_real: torch.Tensor | None = None) -> list[dict]:
    """Train ``config`` on ``data`` for ``budget`` seconds of ``clock``; FID at 0, every, 2·every, …, budget.

    Returns:
        The curve: ``[{"seconds", "wall_seconds", "cpu_seconds", "step", "fid"}, ...]``, seconds increasing.
    """
    run, config, timer, stop = budgeted_run(data, config, clock, budget)
    curve = QualityCurve(run, reference, timer, budget, every, n, stop, held_out, judges, prdc_real)
    timer.start()
    curve.evaluate(step=0)  # the untrained G
    train_gan(data, config, device="cpu", callbacks=[curve], stop_event=stop, progress=False, run=run)
    return curve.points


def machine() -> dict:
    """What the numbers were measured on."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return {"cpu": model, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform()}


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def summary(runs: list[dict]) -> list[dict]:
    """Per checkpoint index: mean, min and max FID (and two-sample accuracy, where measured) over seeds.

    Only checkpoints reached by every seed count.
    """
    length = min(len(r["curve"]) for r in runs)
    rows = []
    for i in range(length):
        points = [r["curve"][i] for r in runs]
        row = {"seconds": statistics.mean(p["seconds"] for p in points),
               "step": statistics.mean(p["step"] for p in points)}
        for metric, short in (("fid", "fid"), ("two_sample_accuracy", "two_sample"), *((m, m) for m in PRDC)):
            values = [value for p in points if (value := _value(p, metric)) is not None]
            if len(values) == len(points):
                row |= {f"{short}_mean": statistics.mean(values), f"{short}_min": min(values),
                        f"{short}_max": max(values)}
        rows.append(row)
    return rows


def wilcoxon_p_lower(differences: list[float]) -> float:
    """One-sided Wilcoxon signed-rank p of "the differences lie below 0"; 1 where every difference is 0."""
    from scipy.stats import wilcoxon

    return float(wilcoxon(differences, alternative="less").pvalue) if any(differences) else 1.0


def judge_spread(runs: list[dict]) -> dict | None:
    """How much of the spread of the runs' final two-sample accuracies is the judges' (runs scored by several).

    Judge j is the same seed in every run, so runs and judges are crossed, and an accuracy splits (two-way analysis
    of variance without replication) into the run's own level, judge j's leniency, shared by every run it scores
    (``sd_judge_effect``), and what is left (``sd_residual``: a judge's verdict on one generator beyond its usual
    leniency). A run's mean over K judges varies from run to run with variance σ_run² + σ_residual²/K; σ_run
    (``sd_runs_without_judges``) is what the training itself adds, and ``sd_runs_upper_95`` a rough 95 % upper
    bound for it (from the chi-square interval of the runs' means' variance, σ_residual taken as known). Variance
    estimates that come out negative count as 0. Judge 0 judged every file measured before ``--judges``: its
    accuracy minus its run's mean over the judges, and a one-sided Wilcoxon signed-rank test of whether it reads
    lower. ``seeds_needed``: the smallest number n of paired seeds for which a one-sided paired t-test at the 5 %
    level has about 80 % power against a true difference δ, n ≥ ((t₀.₉₅ + t₀.₈₀) σ_d / δ)² with n − 1 degrees of
    freedom, when both runs of a pair are judged by the same K judge seeds (their leniency then cancels) and are
    otherwise independent: σ_d² = 2 (σ_run² + σ_residual² / K). Runs of a pair share their seed (initial weights)
    and judge s's codes z, which makes them correlated if anything, so these counts are upper bounds.
    None where fewer than two runs or judges.
    """
    from scipy.stats import chi2, t

    verdicts = [r["curve"][-1].get("two_sample_accuracies", []) for r in runs]
    k, n = min(map(len, verdicts), default=0), len(verdicts)
    if k < 2 or n < 2:
        return None
    table = [values[:k] for values in verdicts]  # runs × judges
    run_means = [statistics.mean(values) for values in table]
    judge_means = [statistics.mean(values[j] for values in table) for j in range(k)]
    grand = statistics.mean(run_means)
    residual_var = sum((values[j] - run_means[r] - judge_means[j] + grand) ** 2
                       for r, values in enumerate(table) for j in range(k)) / ((n - 1) * (k - 1))
    judge_var = max(statistics.variance(judge_means) - residual_var / n, 0.0)
    run_var = max(statistics.variance(run_means) - residual_var / k, 0.0)
    run_var_upper = max((n - 1) * statistics.variance(run_means) / chi2.ppf(0.05, n - 1) - residual_var / k, 0.0)
    judge_0_offsets = [values[0] - mean for values, mean in zip(table, run_means)]
    p = wilcoxon_p_lower(judge_0_offsets)

    def needed(judges: int, effect: float) -> int:
        sd_pair = math.sqrt(2 * (run_var + residual_var / judges))
        seeds = 2
        while ((t.ppf(0.95, seeds - 1) + t.ppf(0.80, seeds - 1)) * sd_pair / effect) ** 2 > seeds:
            seeds += 1
        return seeds

    return {"runs": n, "judges": k, "mean": round(grand, 4), "mean_by_judge": [round(m, 4) for m in judge_means],
            "sd_between_run_means": round(statistics.stdev(run_means), 4),
            "sd_judge_effect": round(math.sqrt(judge_var), 4), "sd_residual": round(math.sqrt(residual_var), 4),
            "sd_runs_without_judges": round(math.sqrt(run_var), 4),
            "sd_runs_upper_95": round(math.sqrt(run_var_upper), 4),
            "judge_0_minus_mean": {"seeds": [r["seed"] for r in runs],
                                   "per_run": [round(x, 4) for x in judge_0_offsets],
                                   "mean": round(statistics.mean(judge_0_offsets), 4),
                                   "lower": sum(x < 0 for x in judge_0_offsets), "wilcoxon_p_lower": round(p, 4)},
            "seeds_needed": {f"K={judges}, d={effect}": needed(judges, effect) for judges in sorted({1, 4, k})
                             for effect in (0.02, 0.01)}}


def paired(runs: list[dict], baseline: list[dict]) -> dict | None:
    """``runs`` against ``baseline`` seed by seed: the final FID and two-sample accuracy, this minus the baseline.

    Runs of one seed share their judges (judge s: split, classifier and codes z from seed s), so a judge's leniency
    cancels in their difference; they share the seed of their training too, but where the two configurations'
    networks differ in shape their draws of initial weights and noise differ from the first layer on. Pair runs of
    one invocation: after ``--merge`` of files from different invocations, seeds pair across them, and the machine's
    pace differs between invocations. ``wilcoxon_p_lower``: a one-sided Wilcoxon signed-rank test of whether this
    configuration's accuracy (or FID) is lower; with n seeds it cannot fall below 2⁻ⁿ (0.125 for three). With several
    judges a run, ``two_sample_median`` compares the median of each run's verdicts as well as their mean: one judge's
    outlying verdict moves a mean of four by a quarter of its distance and the median by less. Seeds that only one
    of them has are left out; None where no seed is shared.
    """
    base = {r["seed"]: r["curve"][-1] for r in baseline}
    shared = [(r["seed"], r["curve"][-1], base[r["seed"]]) for r in runs if r["seed"] in base]
    if not shared:
        return None
    out = {"seeds": [seed for seed, _, _ in shared]}
    for metric in ("fid", "two_sample_accuracy", "two_sample_median", *PRDC):
        values = [(_value(this, metric), _value(that, metric)) for _, this, that in shared]
        if any(None in pair for pair in values):
            continue
        diffs = [this - that for this, that in values]
        out[metric] = {"per_seed": [round(d, 4) for d in diffs], "mean": round(statistics.mean(diffs), 4),
                      "lower": sum(d < 0 for d in diffs), "wilcoxon_p_lower": round(wilcoxon_p_lower(diffs), 4)}
    return out


def _value(point: dict, metric: str) -> float | None:
    """A curve point's ``metric``: "two_sample_median" is the median of its judges' verdicts (None with one judge);
    precision, recall, density and coverage come from its ``prdc`` entry (None where not measured)."""
    if metric == "two_sample_median":
        verdicts = point.get("two_sample_accuracies")
        return statistics.median(verdicts) if verdicts else None
    if metric in PRDC:
        return point.get("prdc", {}).get(metric)
    return point.get(metric)


def table(result: dict) -> str:
    """The curves as text: one line per configuration and checkpoint (mean over seeds [min, max])."""
    w = max(26, *(len(name) + 1 for name in result["configs"]))  # the names' column
    lines = [f"{'config':<{w}}{'s':>7}{'steps':>8}{'FID mean':>10}  [min, max]   two-sample accuracy [min, max]"]
    for name, entry in result["configs"].items():
        for row in entry["summary"]:
            judged = (f"   {row['two_sample_mean']:.3f} [{row['two_sample_min']:.3f}, {row['two_sample_max']:.3f}]"
                      if "two_sample_mean" in row else "")
            lines.append(f"{name:<{w}}{row['seconds']:>7.0f}{row['step']:>8.0f}{row['fid_mean']:>10.2f}  "
                         f"[{row['fid_min']:.2f}, {row['fid_max']:.2f}]{judged}")
    for name, entry in result["configs"].items():
        if "coverage_mean" in entry["summary"][-1]:
            row = entry["summary"][-1]
            lines.append(f"{name} at {row['seconds']:.0f} s: " + ", ".join(
                f"{m} {row[f'{m}_mean']:.3f} [{row[f'{m}_min']:.3f}, {row[f'{m}_max']:.3f}]" for m in PRDC))
    for name, entry in result["configs"].items():
        if entry.get("judges"):
            j, first = entry["judges"], entry["judges"]["judge_0_minus_mean"]
            lines.append(f"{name}: {j['judges']} judges per run; SD of a judge's leniency {j['sd_judge_effect']:.3f}, "
                         f"of a judge's verdict beyond it {j['sd_residual']:.3f}, of the runs themselves "
                         f"{j['sd_runs_without_judges']:.3f}; judge 0 minus its run's mean {first['mean']:+.3f} "
                         f"(lower in {first['lower']} of {j['runs']} runs, "
                         f"Wilcoxon p = {first['wilcoxon_p_lower']:.3f})")
    for name, entry in result["configs"].items():
        if against := entry.get("against_notebook_02"):
            parts = [f"{label} {against[key]['mean']:+.3f} (lower on {against[key]['lower']} of "
                     f"{len(against['seeds'])} seeds, Wilcoxon p = {against[key]['wilcoxon_p_lower']:.3f})"
                     for key, label in (("two_sample_accuracy", "two-sample accuracy"),
                                        ("two_sample_median", "its judges' median"), ("fid", "FID"),
                                        *((m, m) for m in PRDC))
                     if key in against]
            lines.append(f"{name} minus notebook_02, seed by seed: " + "; ".join(parts))
    floor = result["real_floor"]
    lines.append(f"held-out real images ({floor['split']} split, n={floor['n']}): FID {floor['fid']:.2f} (the floor)")
    return "\n".join(lines)


def judge_verdicts(ax, runs: list[dict], colour, offset: float) -> None:
    """Each judge's verdict on each run at the last evaluation, as small crosses beside it (runs with several
    judges only): how far apart the judges of one run lie, next to the spread between the runs."""
    points = [(p["seconds"], a) for r in runs for p in r["curve"][-1:] for a in p.get("two_sample_accuracies", [])]
    if points:
        shift = offset * 0.03 * max(x for x, _ in points)  # configurations side by side, not on top of each other
        ax.scatter([x + shift for x, _ in points], [a for _, a in points], color=colour, marker="x", s=14,
                   linewidths=0.8, alpha=0.7, label="each judge's verdict at the end")


def plot(result: dict, path: Path) -> None:
    """FID against training seconds: one line per configuration (mean over seeds), each seed faint; beside it the
    two-sample accuracy, where measured, with each judge's final verdict as a cross (``judge_verdicts``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judged = all("two_sample_mean" in r for e in result["configs"].values() for r in e["summary"])
    fig, axes = plt.subplots(1, 2 if judged else 1, figsize=(13 if judged else 7, 4.2), squeeze=False)
    ax = axes[0, 0]
    pairs = plt.get_cmap("tab20").colors  # 20 colours, a dark and a light one of each hue in turn:
    colours = pairs[0::2] + pairs[1::2]   # dark ones first, so that neighbours in the legend differ in hue
    for i, (name, entry) in enumerate(result["configs"].items()):
        colour, marker = colours[i % len(colours)], "os^D"[i // len(colours) % 4]  # past 20: another marker
        rows = entry["summary"]
        seeds = len(entry["runs"])  # dashed: one seed only, so no spread to judge it by
        for a, metric, mean in ((ax, "fid", "fid_mean"),) + (((axes[0, 1], "two_sample_accuracy",
                                                               "two_sample_mean"),) if judged else ()):
            for run in entry["runs"]:
                a.plot([p["seconds"] for p in run["curve"]], [p[metric] for p in run["curve"]], color=colour,
                       alpha=0.3)
            a.plot([r["seconds"] for r in rows], [r[mean] for r in rows], color=colour, marker=marker,
                   ls="-" if seeds > 1 else "--", label=f"{name} ({seeds} seed{'s' * (seeds > 1)})")
        if judged:
            judge_verdicts(axes[0, 1], entry["runs"], colour, offset=(i - (len(result["configs"]) - 1) / 2))
    if judged:
        axes[0, 1].axhline(0.5, color="grey", ls=":", label="indistinguishable")
        axes[0, 1].set(ylabel="two-sample test accuracy (held-out test images)",
                       title="can a classifier tell the samples from real ones?")
    floor = result["real_floor"]
    ax.axhline(floor["fid"], color="grey", ls=":", label=f"held-out real images (n={floor['n']})")
    s = result["settings"]
    ax.set_xlabel(f"training seconds ({s['clock']} time, torch threads: {s['threads']})")
    ax.set_ylabel(f"FID (domain features, n={s['n']})")
    ax.set_yscale("log")
    ax.set_title(f"time to quality on {s['data']} {s['size']} px")
    if judged:
        axes[0, 1].set_xlabel(ax.get_xlabel())
    legend = {}  # one legend beside the plots, so that no curve hides behind it
    for a in axes.flat:
        for handle, label in zip(*a.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per run (default 120)")
    parser.add_argument("--every", type=float, default=20.0, help="seconds of training between two FIDs")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="what the budget counts")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    parser.add_argument("--n", type=int, default=1000, help="fakes per FID")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--configs", nargs="+", default=["notebook_02", "reference"],
                        help=f"names from: {', '.join(candidates())}; NAME@bf16 trains under bf16 autocast")
    parser.add_argument("--data", default="pneumoniamnist")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--out", type=Path, default=HERE / "time_to_quality.json")
    parser.add_argument("--plot", default=str(HERE / "time_to_quality.png"), help="PNG path ('' for none)")
    parser.add_argument("--merge", type=Path, nargs="+", help="combine these result files instead of measuring")
    parser.add_argument("--keep", nargs="+", metavar="NAME",
                        help="with --merge: only these configurations of the files (default: all)")
    parser.add_argument("--two-sample", action="store_true",
                        help="also run the classifier two-sample test against the test split at each evaluation")
    parser.add_argument("--judges", type=int, default=1,
                        help="two-sample judges (seeds 0..K-1, each with its own fakes) averaged per evaluation")
    parser.add_argument("--prdc", action="store_true",
                        help="also precision, recall, density and coverage of the FID's fakes against --n training "
                             "images (a fixed draw) at each evaluation")
    args = parser.parse_args(argv)
    unknown = {name for name in args.configs
               if split_name(name)[0] not in candidates() or split_name(name)[1] not in PRECISIONS}
    if unknown:
        parser.error(f"unknown config(s) {sorted(unknown)}; choose from {', '.join(candidates())} "
                     f"(each may end in @{' or @'.join(PRECISIONS)})")
    if args.keep and not args.merge:
        parser.error("--keep chooses configurations of the files given to --merge; measure with --configs instead")
    if args.every <= 0 or args.budget < args.every or args.n < 2:
        parser.error("need 0 < --every <= --budget and --n >= 2")
    if args.judges < 1 or (args.judges > 1 and not args.two_sample):
        parser.error("--judges K needs K >= 1, and K > 1 only with --two-sample (the judges score the two-sample test)")
    return args


def measure(args: argparse.Namespace) -> dict:
    """Train every ``--configs`` entry for every seed; the result before summaries."""
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load(args.data, split="train", size=args.size)
    phi = feature_net(args.data, args.size, device="cpu", progress=False)
    reference = RealReference(data.images, phi)
    held_out = load(args.data, split="val", size=args.size).images[:args.n]  # what a perfect G would score
    floor = {"fid": round(reference.fid(held_out), 3), "n": len(held_out), "split": "val"}
    test_images = load(args.data, split="test", size=args.size).images[:args.n] if args.two_sample else None
    prdc_real = None
    if args.prdc:  # as many training images as fakes, the same draw for every run
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:args.n]
        prdc_real = phi.features(data.images[pick])
    result = {"settings": {"budget": args.budget, "every": args.every, "clock": args.clock, "threads":
                           torch.get_num_threads(), "n": args.n, "seeds": args.seeds, "data": data.name,
                           "source": data.source, "size": args.size, "n_train": len(data),
                           "judges": args.judges, **({"prdc_k": PRDC_K} if args.prdc else {})},
              "machine": machine(), "real_floor": floor, "feature_net_test_accuracy": phi.test_accuracy,
              "configs": {name: {"config": dataclasses.asdict(candidates()[split_name(name)[0]])
                                 | {"precision": split_name(name)[1]}, "runs": []} for name in args.configs}}
    for seed in args.seeds:  # seeds outermost: a change of machine load hits every config alike
        for name in args.configs:
            base, precision = split_name(name)
            config = dataclasses.replace(candidates()[base], seed=seed)
            load_start = load_average()
            with use_precision(precision):  # train_gan's steps (gan_lab.precision); the FIDs between them: fp32
                curve = time_to_quality(data, config, reference, args.budget, args.every, args.n, args.clock,
                                        test_images, args.judges, prdc_real)
            result["configs"][name]["runs"].append({"seed": seed, "curve": curve, "load_average":
                                                    {"start": load_start, "end": load_average()}})
            print(f"{name} seed {seed}: FID {curve[-1]['fid']:.2f} after {curve[-1]['step']} steps", flush=True)
    return result


def _complete(config: dict) -> dict:
    """A stored config with the fields added since it was measured, as they were then (``FIELDS_ADDED_LATER``)."""
    then = {**GANConfig.FIELDS_ADDED_LATER, "precision": "fp32"}  # precision: recorded since bf16 runs began
    missing = set(dataclasses.asdict(GANConfig())) - set(then) - set(config)
    if missing:
        raise ValueError(f"a stored config lacks {sorted(missing)}: a GANConfig field added since the file was "
                         f"written needs its old meaning in GANConfig.FIELDS_ADDED_LATER.")
    return {**then, **config}


SAME_SETTINGS = ("budget", "every", "clock", "threads", "n", "data", "size", "judges")


def merge(paths: list[Path], same: tuple[str, ...] = SAME_SETTINGS, complete=None,
          keep: list[str] | None = None) -> dict:
    """Result files written by separate processes (e.g. one per config and seed) as one result.

    ``same``: the settings the files must share; ``complete``: what a stored config means today (default
    ``_complete``; other scripts' files pass their own ``same`` and, for configs stored whole, ``dict``);
    ``keep``: only these configurations (an invocation that measured two candidates beside one default can then be
    stored as two files, each candidate with its own later seeds).

    Raises:
        ValueError: the files were measured with different settings, give one name two configs, or hold none of
            the names in ``keep``.
    """
    complete = complete or _complete
    results = [json.loads(Path(p).read_text()) for p in paths]
    for result in results:
        result["settings"].setdefault("judges", 1)  # files measured before --judges: judge 0 alone
    sources = [name for p, r in zip(paths, results) for name in r.get("merged_from", [Path(p).name])]
    merged = results[0] | {"configs": {}, "merged_from": sources}  # a merged file names what it was merged from
    if keep:
        held = {name for r in results for name in r["configs"]}
        if absent := sorted(set(keep) - held):
            raise ValueError(f"--keep names {absent}, which none of the files holds; choose from {sorted(held)}.")
        for result in results:
            result["configs"] = {name: e for name, e in result["configs"].items() if name in keep}
    for path, result in zip(paths, results):
        differ = [k for k in same if result["settings"][k] != merged["settings"][k]]
        if differ:
            raise ValueError(f"{path} was measured with other settings ({differ}) than {paths[0]}; merge like runs.")
        for name, entry in result["configs"].items():
            config = complete(entry["config"])
            into = merged["configs"].setdefault(name, {"config": config, "runs": []})
            if into["config"] != config:
                raise ValueError(f"{path} gives {name!r} another config than an earlier file; rename one of them.")
            twice = {r["seed"] for r in into["runs"]} & {r["seed"] for r in entry["runs"]}
            if twice:
                raise ValueError(f"{path} holds {name!r} with seed(s) {sorted(twice)} again (a file merged twice?); "
                                 f"each configuration and seed may be merged once.")
            into["runs"] += entry["runs"]
    merged["settings"]["seeds"] = sorted({r["seed"] for e in merged["configs"].values() for r in e["runs"]})
    if keep:  # the sources may hold configurations the merged file leaves out: say which it kept
        merged["kept"] = sorted(keep)
    return merged


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = merge(args.merge, keep=args.keep) if args.merge else measure(args)
    for entry in result["configs"].values():
        entry["summary"] = summary(entry["runs"])
        if spread := judge_spread(entry["runs"]):
            entry["judges"] = spread
    baseline = result["configs"].get("notebook_02")
    for name, entry in result["configs"].items():
        if baseline and name != "notebook_02" and (against := paired(entry["runs"], baseline["runs"])):
            entry["against_notebook_02"] = against
    if any(not math.isfinite(p["fid"]) for e in result["configs"].values() for r in e["runs"] for p in r["curve"]):
        print("warning: some FIDs are not finite (a run diverged)")
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.plot:
        plot(result, Path(args.plot))
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
