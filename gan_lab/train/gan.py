"""The GAN of Goodfellow et al. (2014) as two step functions, and a trainer.

Algorithm 1 of the paper, one line of code per line of the algorithm:
for k steps update D by ascending ∇ V(D, G) on a minibatch of real images
and one of noise; then update G by descending its loss on fresh noise.

Samples come from an exponential moving average of G's weights (Yazıcı et al. 2019), kept beside
the trained G (``GANRun.G_ema``, ``GANConfig.ema_decay``): the trained G is where the game is, the
average is what a user sees. ``benchmarks/ema.py`` measures what it buys.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..checkpoints import stored_history
from ..data.base import ImageData
from ..device import get_device
from ..losses import adversarial_losses
from ..models.dcgan import UPSAMPLING, DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from ..models.diffaugment import AdaptiveProbability, AugmentedDiscriminator, check_policy
from ..models.mlp import MLPDiscriminator, MLPGenerator
from .common import (
    GAN_LOSSES,
    Run,
    TrainConfig,
    adams,
    begin,
    data_meta,
    data_name,
    draw_z,
    fit_run,
    frozen,
    images_of,
    in_batches,
    is_number,
    linear_decay_factor,
    load_or_train,
    load_run,
    set_learning_rates,
)
from .image_pool import ImagePool
from .lookahead import LookaheadMinmax
from .loop import on_a_clock, run_progress, sample_batch
from .memory_format import channels_last_on_cpu

if TYPE_CHECKING:
    from ..distributed import Distributed


@dataclass
class GANConfig(TrainConfig):
    """Everything that defines a GAN training run (notebooks override by keyword).

    The defaults keep the DCGAN paper's Adam β1 = 0.5 with a narrow network (width 32) and batch 32, sized
    for a laptop CPU: measured by ``benchmarks/time_to_quality.py`` on 28-px PneumoniaMNIST at the paper's
    learning rate 2e-4 and sampling the trained G, this reaches FID 5.6 after 120 s of CPU time where the
    widely copied configuration (width 64, batch 64: PyTorch's DCGAN example and dcgan.torch; the paper
    itself used batch 128) reaches 17.8 (~40 ms per step on one CPU core; 3000 steps in about two minutes).
    The learning rate (4e-4, twice the paper's) and the average's β (0.995) were then chosen by the same
    benchmark's classifier two-sample test (``--two-sample``): in 180 s of wall time on two cores, eight
    seeds, they lowered its accuracy from 0.734 to 0.705 and the FID from 2.65 to 2.05 against 2e-4 and
    β = 0.99 (``time_to_quality_two_sample_pneumoniamnist_2cores.json``). Both were lower on seven of the
    eight seeds, but the accuracy by less than the spread of the earlier default's seeds (the bar set before
    the optimiser candidates were measured), and on BreastMNIST the FID was worse (the README has the whole
    comparison). Measured for the DCGAN; the MLP shares these defaults so that notebook 02 compares the two
    architectures under one optimiser.

    Attributes:
        arch: "dcgan" (convolutional, Radford et al. 2016) or "mlp" (Goodfellow et al. 2014).
        loss: "nonsaturating", "minimax", "least_squares" (see ``gan_lab.losses``).
        z_dim: latent size.
        width: G's width, and D's unless ``width_D`` is set (DCGAN: channels of the outer layers; MLP:
            8 × width hidden units, so the same number gives networks of similar size).
        width_D: D's own width where it differs from G's; 0 (the default): ``width`` for both.
        batch_size: images per step.
        num_steps: generator updates.
        k: discriminator updates per generator update (Algorithm 1's k).
        lr_G, lr_D: Adam's learning rates (DCGAN paper: 2e-4; gan_lab: 4e-4, see above; β from ``TrainConfig``).
        decay_start: the part of the run after which both learning rates fall linearly to 0 at its end, as
            CycleGAN's do over the last 100 of its 200 epochs (Zhu et al. 2017; 0.5, also the default of the
            official PyTorch code of pix2pix and CycleGAN); 1 (the default): constant rates. The
            run's end is ``num_steps``, or a time limit if that comes first (``stop_event`` with a
            ``fraction()``, as ``--minutes``' ``TimeLimit`` has: the rates then follow the clock, and a resumed
            ``--minutes`` run decays again over its own minutes, as a run continued to a larger ``num_steps``
            plans its decay again: the rates can rise). Over the exact part of the run, not rounded to whole
            steps as CycleGAN's ``linear_decay`` is. Logged as "lr_factor" when on.
        ema_decay: β of the exponential moving average of G's weights, θ_ema ← β θ_ema + (1 − β) θ after
            every G step, from which ``GANRun.sample`` draws (0: no average, sample the trained G). 0.995
            is gan_lab's choice (see above); ``benchmarks/ema.py`` (``ema.png``) compares the trained G with
            its averages for β = 0.99, 0.995 and 0.999 along one run.
        ema_rampup: r > 0 lets the average's memory grow with the run, the ramp-up of StyleGAN2-ADA's official
            code (Karras et al. 2020; 0.05 in its CIFAR-10 setting): after t G steps the average's half-life
            is at most r · t steps, β_t = min(``ema_decay``, 0.5^(1/(r t))), so early weights leave the average
            as the run goes on however long it is. 0 (the default): β = ``ema_decay`` from the first step.
        augment: a DiffAugment policy (Zhao et al. 2020; ``gan_lab.models.diffaugment``), e.g.
            "color,translation,cutout": every image D sees, real or fake, in both players' updates, is
            augmented differentiably. "" (the default) shows D the images as they are.
        ada_target: 0 (the default) applies ``augment`` to every image; a target r in (0, 1) makes it
            adaptive (ADA, Karras et al. 2020; they use 0.6): each transform is applied with a probability p
            that starts at 0 and is steered so that r_t = E[sign a(x)] over D's logits a on real images stays
            near r (logged as "p_augment"; a resumed run starts from the last logged p, a mean over ``log_every``
            steps). Needs a loss whose
            logits are centred on 0 ("nonsaturating" or "minimax": least squares trains D towards 1 and 0).
        ada_images: real images over which ADA's p can rise from 0 to 1 (Karras et al.: 500 000, for runs of
            millions of images; gan_lab's default is its own choice for runs of about 100 000).
        lambda_r1: γ of the R1 penalty (Mescheder et al. 2018), γ/2 · E‖∇_x D(x)‖² on real images, applied
            lazily every ``R1_EVERY`` D updates with its weight multiplied by ``R1_EVERY`` (StyleGAN2's lazy
            regularisation, Karras et al. 2020); 0 (the default): none.
        spectral_norm: spectrally normalise every layer of the DCGAN D (Miyato et al. 2018) and drop its batch
            norm, as their discriminators do; False (the default): the DCGAN paper's D with batch norm.
        lookahead_k: Lookahead–minmax (Chavdarova et al. 2021; ``gan_lab.train.lookahead``): every this many
            steps both players step back towards their weights of k steps before; 0 (the default): off.
        lookahead_alpha: α of that step back, slow ← slow + α (fast − slow) (the official code's 0.5).
        reuse_fakes: G's update reuses the fakes of D's last update, made once with their graph, instead of
            drawing fresh noise and running G again (PyTorch's DCGAN example does this; it saves one forward
            pass of G per step). False (the default): Algorithm 1's fresh noise for each player.
        upsample: how the DCGAN G doubles its resolution: "transposed" (the default, the DCGAN paper's),
            "resize" (nearest-neighbour then a 3×3 convolution, Odena et al. 2016) or "resize_last" (only
            the last stage resizes; gan_lab's own variant).
        full_res_conv_G, full_res_conv_D: one more 3×3 convolution at the image's full resolution in the
            DCGAN G (before its output) or D (before its first strided layer); see ``DCGANGenerator``'s
            ``full_res_conv``. False (the default): the DCGAN paper's layers.
        minibatch_std: the group size of a minibatch standard deviation layer before the DCGAN D's head
            (Progressive GAN, Karras et al. 2018, section 3; 4 in their official code): D sees how much the
            images of a group differ, which a collapsed G cannot hide. 0 (the default): none. D scores the
            real and the fake batch in separate passes, so a group never mixes the two.
        mixed_batches: D sees the real and the fake batch as one batch (2B images, or 2B / world size in each
            process of a torchrun job), in its own update and in G's (where the real half is D's last real
            batch), so that its batch norm normalises both with the statistics of the mixture. False (the
            default): separate real and fake batches, as in PyTorch's DCGAN example; then batch norm takes each
            batch's own per-channel mean and variance out of D's hidden features, and with them a difference
            between the real and the fake images in those moments (our reading, the reason for the option).
            It changes nothing but the cost where D has no batch norm (``spectral_norm``, the MLP); R1's
            penalty still scores the real images alone. Not with ``minibatch_std``, whose groups would mix the
            two.
        top_k: ν of top-k training (Sinha et al. 2020): G's loss takes only the k of its B fakes that D scores
            as most realistic (D's largest outputs), and the others give G no gradient. After e epochs (an epoch
            is N / B of G's updates, N the training images) k = ⌊B · γ^e⌋, γ = ``top_k_decay``, never below
            ν · B (``top_k_count``; logged as "top_k", the fraction kept). In a torchrun job each
            process keeps its share of k, the best of its own fakes (not of the whole batch). With
            ``augment`` D ranks the augmented fakes. 1 (the default): every fake counts.
        top_k_decay: γ, k's factor per epoch. This schedule, its default γ = 0.99 and the benchmark candidates'
            ν = 0.5 are gan_lab's choice; the paper's own schedule and values were not checked here.
        pool_size: D's fakes pass through a history of this many past fakes (``ImagePool``, Shrivastava et al. 2017,
            with the rule and the size 50 of CycleGAN, Zhu et al. 2017): each new fake, once the history is full, is
            with probability ½ swapped for a stored one, which D sees instead. G's update still scores fresh fakes. The
            history is kept on the run, so a second ``train_gan`` call on the same ``run`` (with the same ``pool_size``)
            goes on with it, but it is not checkpointed: a run resumed from disk starts with an empty one. In a torchrun
            job each process keeps its own. 0 (the default): D sees only the newest fakes.
        self_attention_G, self_attention_D: a self-attention layer (SAGAN, Zhang et al. 2019;
            ``gan_lab.models.attention.SelfAttention``) in the DCGAN G, on z's projection, or in D, on its
            last features, both the smallest map (7×7 for 28-px images). SAGAN has one in each network (with spectral
            normalisation in both and two learning rates, neither implied here). False (the default): the
            DCGAN paper's layers.
        The loop fields and the seed: see ``TrainConfig``.
    """

    key = "gan"
    # all off; ada_images, lookahead_alpha and top_k_decay count only when on
    FIELDS_ADDED_LATER = {"ema_decay": 0.0, "augment": "", "ada_target": 0.0, "ada_images": 20_000, "lambda_r1": 0.0,
                          "spectral_norm": False, "upsample": "transposed",
                          "width_D": 0, "lookahead_k": 0, "reuse_fakes": False, "ema_rampup": 0.0, "decay_start": 1.0,
                          "lookahead_alpha": 0.5, "full_res_conv_G": False, "full_res_conv_D": False,
                          "minibatch_std": 0, "mixed_batches": False, "top_k": 1.0, "top_k_decay": 0.99,
                          "pool_size": 0, "self_attention_G": False, "self_attention_D": False}

    arch: str = "dcgan"
    loss: str = "nonsaturating"
    z_dim: int = 64
    width: int = 32
    width_D: int = 0
    batch_size: int = 32
    num_steps: int = 3000
    k: int = 1
    lr_G: float = 4e-4
    lr_D: float = 4e-4
    decay_start: float = 1.0
    ema_decay: float = 0.995
    ema_rampup: float = 0.0
    augment: str = ""
    ada_target: float = 0.0
    ada_images: int = 20_000
    lambda_r1: float = 0.0
    spectral_norm: bool = False
    upsample: str = "transposed"
    lookahead_k: int = 0
    lookahead_alpha: float = 0.5
    reuse_fakes: bool = False
    full_res_conv_G: bool = False
    full_res_conv_D: bool = False
    minibatch_std: int = 0
    mixed_batches: bool = False
    top_k: float = 1.0
    top_k_decay: float = 0.99
    pool_size: int = 0
    self_attention_G: bool = False
    self_attention_D: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {UPSAMPLING}, not {self.upsample!r}.")
        if self.upsample != "transposed" and self.arch != "dcgan":
            raise ValueError(f"upsample applies to the DCGAN generator; arch is {self.arch!r}.")
        for flag in ("spectral_norm", "reuse_fakes", "full_res_conv_G", "full_res_conv_D", "mixed_batches",
                     "self_attention_G", "self_attention_D"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be True or False, not {getattr(self, flag)!r}.")
        for flag, network in (("spectral_norm", "discriminator"), ("full_res_conv_G", "generator"),
                              ("full_res_conv_D", "discriminator"), ("minibatch_std", "discriminator"),
                              ("self_attention_G", "generator"), ("self_attention_D", "discriminator")):
            if getattr(self, flag) and self.arch != "dcgan":
                raise ValueError(f"{flag} applies to the DCGAN {network}; arch is {self.arch!r}.")
        if not (is_number(self.ema_decay) and 0 <= self.ema_decay < 1):
            raise ValueError(f"ema_decay must be a number in [0, 1) (0 turns the average off), not {self.ema_decay!r}.")
        if not (is_number(self.decay_start) and 0 <= self.decay_start <= 1):
            raise ValueError(f"decay_start must be a number in [0, 1], the part of the run after which the learning "
                             f"rates fall to 0 (1: never; CycleGAN uses 0.5), not {self.decay_start!r}.")
        if not (is_number(self.ema_rampup) and self.ema_rampup >= 0):
            raise ValueError(f"ema_rampup must be a number ≥ 0 (0: no ramp-up; StyleGAN2-ADA's CIFAR-10 setting "
                             f"uses 0.05), not {self.ema_rampup!r}.")
        if self.ema_rampup and not self.ema_decay:
            raise ValueError("ema_rampup ramps up the average of G's weights, which is off (ema_decay=0); "
                             "set ema_decay too, e.g. ema_decay=0.999, ema_rampup=0.05.")
        if not isinstance(self.augment, str):
            raise ValueError(f"augment must be a DiffAugment policy string such as 'color,translation,cutout', or '' "
                             f"for none; not {self.augment!r}.")
        check_policy(self.augment)
        if not (is_number(self.ada_target) and 0 <= self.ada_target < 1):
            raise ValueError(f"ada_target must be a number in [0, 1) (0: no adaptive augmentation; Karras et al. "
                             f"use 0.6), not {self.ada_target!r}.")
        if self.ada_target and not self.augment:
            raise ValueError("ada_target adapts the probability of the augment policy, which is ''; set augment "
                             "too, e.g. augment='color,translation,cutout', ada_target=0.6.")
        if self.ada_target and self.loss not in ("nonsaturating", "minimax"):
            raise ValueError(f"ada_target needs the logistic loss ('nonsaturating' or 'minimax'): ADA reads the sign "
                             f"of D's logits, and with loss={self.loss!r} D's outputs are not centred on 0.")
        if not (isinstance(self.ada_images, int) and self.ada_images >= 1):
            raise ValueError(f"ada_images must be a whole number ≥ 1, not {self.ada_images!r}.")
        if self.arch not in ("dcgan", "mlp"):
            raise ValueError(f"arch must be 'dcgan' or 'mlp', not {self.arch!r}.")
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, not {self.loss!r} (WGAN has its own trainer).")
        small = {k: getattr(self, k) for k in ("z_dim", "width", "k") if getattr(self, k) < 1}
        if small:
            raise ValueError(f"{small}: sizes and counts must be ≥ 1.")
        if isinstance(self.lookahead_k, bool) or not (isinstance(self.lookahead_k, int) and self.lookahead_k >= 0):
            raise ValueError(f"lookahead_k must be a whole number ≥ 0 (0: no lookahead; Chavdarova et al. use 5), "
                             f"not {self.lookahead_k!r}.")
        if not (is_number(self.lookahead_alpha) and 0 < self.lookahead_alpha <= 1):
            raise ValueError(f"lookahead_alpha must be a number in (0, 1] (Chavdarova et al. use 0.5), "
                             f"not {self.lookahead_alpha!r}.")
        if isinstance(self.minibatch_std, bool) or not (isinstance(self.minibatch_std, int)
                                                         and (self.minibatch_std == 0 or self.minibatch_std >= 2)):
            raise ValueError(f"minibatch_std must be 0 (none) or a group size ≥ 2 (Progressive GAN's code uses 4), "
                             f"not {self.minibatch_std!r}.")
        if self.mixed_batches and self.minibatch_std:
            raise ValueError("mixed_batches puts real and fake images in one batch, where minibatch_std's groups "
                             "would mix the two; use one of them.")
        if not (is_number(self.top_k) and 0 < self.top_k <= 1):
            raise ValueError(f"top_k must be a number in (0, 1], the smallest fraction of the fakes whose logits enter "
                             f"G's loss (1: all of them), not {self.top_k!r}.")
        if not (is_number(self.top_k_decay) and 0 < self.top_k_decay <= 1):
            raise ValueError(f"top_k_decay must be a number in (0, 1], k's factor per epoch (1: constant), "
                             f"not {self.top_k_decay!r}.")
        if isinstance(self.pool_size, bool) or not (isinstance(self.pool_size, int) and self.pool_size >= 0):
            raise ValueError(f"pool_size must be a whole number ≥ 0, the fakes D's history keeps (0: none; CycleGAN "
                             f"uses 50), not {self.pool_size!r}.")
        if isinstance(self.width_D, bool) or not (isinstance(self.width_D, int) and self.width_D >= 0):
            raise ValueError(f"width_D must be a whole number ≥ 1, or 0 for D as wide as G; not {self.width_D!r}.")


def build_gan(config: GANConfig, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module]:
    """A fresh (G, D) pair for images of shape (channels, size, size)."""
    torch.manual_seed(config.seed)
    width_D = config.width_D or config.width
    if config.arch == "mlp":
        G = MLPGenerator(config.z_dim, (channels, size, size), width=config.width * 8)
        D = MLPDiscriminator((channels, size, size), width=width_D * 8)
        return G, D
    G = DCGANGenerator(config.z_dim, channels, size, config.width, upsample=config.upsample,
                       full_res_conv=config.full_res_conv_G, self_attention=config.self_attention_G)
    D = DCGANDiscriminator(channels, size, width_D, spectral_norm=config.spectral_norm,
                           full_res_conv=config.full_res_conv_D, minibatch_std=config.minibatch_std,
                           self_attention=config.self_attention_D)
    G.apply(init_dcgan_weights)
    D.apply(init_dcgan_weights)
    return G, D


def d_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
           loss_D_fn, mixed: bool = False) -> dict[str, torch.Tensor]:
    """One discriminator update: ascend V(D, G) = E[log D(x)] + E[log(1 − D(G(z)))].

    Args:
        D: the discriminator; it returns logits a, D(x) = σ(a).
        opt_D: D's optimiser (only D's weights move).
        real: a batch of real images (B, C, H, W) on the training device.
        fake: a batch G(z) made without a graph (G is fixed during D's update).
        loss_D_fn: ``loss_D_fn(real_logits, fake_logits)`` → scalar, e.g. ``losses.discriminator_loss`` (= −V).
        mixed: score both as one batch (``GANConfig.mixed_batches``); False: two batches, real then fake.

    Returns:
        ``{"loss_D", "D(x)", "D(G(z))", "r_t"}``: detached scalars; D(x) and D(G(z)) are batch means of σ(a),
        r_t = E[sign(a)] over the real batch, the overfitting heuristic of Karras et al. (2020): 1 when every
        real image gets a positive logit (complete overfitting, in their words), near 0 when the logits on
        real images are as often negative as positive (ADA steers by it).
    """
    real_logits, fake_logits = score(D, real, fake) if mixed else (D(real), D(fake))
    loss_D = loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(),
            "D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach()).mean(),
            "r_t": torch.sign(real_logits.detach()).mean()}


def score(D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D's logits for ``real`` and ``fake`` scored as one batch (in training mode its batch norm then
    normalises both with the mixture's statistics)."""
    logits = D(torch.cat([real, fake]))
    return logits[:len(real)], logits[len(real):]


def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor,
           loss_G_fn, fake: torch.Tensor | None = None, real: torch.Tensor | None = None,
           keep: int | None = None) -> dict[str, torch.Tensor]:
    """One generator update on noise z (B, z_dim): descend L_G(D(G(z))).

    Args:
        G, D: the networks (D is held fixed: its weights receive no gradient).
        opt_G: G's optimiser.
        z: codes drawn from p_z, fresh for this update (unused when ``fake`` is given).
        loss_G_fn: ``loss_G_fn(fake_logits)`` → scalar, e.g. ``losses.generator_loss_nonsaturating``.
        fake: G(z) already made, with its graph (``GANConfig.reuse_fakes``: the fakes G made for D's last update,
            which D was shown unless ``pool_size`` swapped some for older ones); None: made here.
        real: real images D scores in one batch with the fakes (``GANConfig.mixed_batches``), so that it
            judges them as in its own update; only the fakes' logits enter the loss. None: the fakes alone.
        keep: top-k training (``GANConfig.top_k``): only the ``keep`` fakes with D's largest outputs enter the
            loss, so the others give G no gradient. None: all of them.

    Returns:
        ``{"loss_G"}``: a detached scalar.
    """
    with frozen(D):  # the gradient flows through D into G; D's weights get none (and cost none)
        fake = G(z) if fake is None else fake
        logits = D(fake) if real is None else score(D, real, fake)[1]
        if keep is not None:  # the fakes D finds most realistic (Sinha et al. 2020)
            logits = logits.topk(keep, dim=0).values
        loss_G = loss_G_fn(logits)
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {"loss_G": loss_G.detach()}


def top_k_count(step: int, batch_size: int, n_images: int, nu: float, gamma: float,
                local_batch_size: int | None = None) -> int:
    """Top-k training's k for G's update at ``step`` (1 for the first, as ``fit`` counts): B · γ^epoch rounded
    down, never below ν · B (and at least 1), where an epoch is ``n_images`` fakes, B per G update (Sinha et al.
    2020). In a torchrun process, its share of that k: k · ``local_batch_size`` / B, rounded."""
    epoch = (step - 1) * batch_size // n_images
    k = max(math.floor(batch_size * max(gamma ** epoch, nu) + 1e-9), 1)  # 1e-9: 100 · 0.57 is 56.99999…
    return k if local_batch_size is None else max(round(k * local_batch_size / batch_size), 1)


#: D updates between two R1 penalties (Karras et al. 2020's lazy regularisation uses 16)
R1_EVERY = 16


def r1_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, gamma: float,
            every: int = 1) -> dict[str, torch.Tensor]:
    """One R1 update of D (Mescheder et al. 2018, Eq. 9): descend γ/2 · E_x‖∇_x D(x)‖² on real images x.

    R1 penalises D for a non-zero gradient on the real data, so that near the equilibrium (p_g = p_data, D
    constant) D cannot push G away again; Mescheder et al. (Theorem 4.1) prove that the regularised game
    converges locally. ``every`` scales the penalty when it is applied only every ``every`` steps (lazy
    regularisation).

    Returns:
        ``{"R1"}``: the detached E‖∇_x D(x)‖² before weighting.
    """
    real = real.detach().requires_grad_(True)
    grad, = torch.autograd.grad(D(real).sum(), real, create_graph=True)  # ∇_x D(x) per image (sum over the batch)
    penalty = grad.pow(2).flatten(1).sum(1).mean()
    opt_D.zero_grad(set_to_none=True)
    (gamma / 2 * every * penalty).backward()
    opt_D.step()
    return {"R1": penalty.detach()}


def make_optimizers(G, D, config: GANConfig) -> dict[str, torch.optim.Optimizer]:
    """Adam for G and for D, with the config's learning rates and betas."""
    return adams({"G": G, "D": D}, {"G": config.lr_G, "D": config.lr_D}, config)


@dataclass
class GANRun(Run):
    """A trained (or training) GAN: its networks, and what every run holds (see ``Run``).

    Attributes:
        G, D: the players as trained.
        G_ema: the moving average of G's weights (``GANConfig.ema_decay``), or None when it is off.
        G_slow, D_slow: Lookahead–minmax's slow weights (``GANConfig.lookahead_k``), or None when it is off; G and
            G_ema are what to sample.
        pool: the history of fakes D is shown (``GANConfig.pool_size``), or None before training; kept, as the
            optimisers are, so a second ``train_gan`` call continues it (not checkpointed).
    """

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None = None
    G_slow: nn.Module | None = None
    D_slow: nn.Module | None = None
    pool: ImagePool | None = field(default=None, repr=False)

    @property
    def generator(self) -> nn.Module:
        """The generator to sample from: the average of G's weights when there is one, else G."""
        return self.G if self.G_ema is None else self.G_ema

    def sample(self, n: int = 64, seed: int | None = 0) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [-1, 1] from :attr:`generator`, a fixed seed (None: the global RNG)."""
        return in_batches(self.generator, draw_z(n, self.G.z_dim, "cpu", seed))


def new_run(data: ImageData | torch.Tensor, config: GANConfig, device=None) -> GANRun:
    """An untrained GANRun sized for ``data``: build it first to attach a monitor, then pass it to train_gan.

    Example:
        >>> run = new_run(data, config)                                        # doctest: +SKIP
        >>> monitor = TrainingMonitor(run.G)                                   # doctest: +SKIP
        >>> train_gan(data, config, run=run, callbacks=[monitor.callback])    # doctest: +SKIP
    """
    images = images_of(data)
    G, D = build_gan(config, images.shape[1], images.shape[-1])
    device = get_device(device)
    G_ema = _frozen_copy(G).to(device) if config.ema_decay > 0 else None
    return GANRun(G.to(device), D.to(device), G_ema, config=config, data_name=data_name(data))


def _frozen_copy(net: nn.Module) -> nn.Module:
    """A copy of ``net`` in eval mode that no optimiser will touch (the start of G's moving average)."""
    return copy.deepcopy(net).eval().requires_grad_(False)


def _averager(run: GANRun, config: GANConfig) -> AveragedModel | None:
    """torch's EMA over ``run.G_ema`` itself (so checkpoints hold the average), continuing a resumed one."""
    if config.ema_decay == 0:
        run.G_ema = None  # training on without an average: an old one would no longer match G
        return None
    if run.G_ema is None:  # a run made without an average (e.g. ema_decay was 0) now asked for one
        run.G_ema = _frozen_copy(run.G)
    averager = AveragedModel(run.G_ema, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    averager.module = run.G_ema  # average in place, not in AveragedModel's own copy
    averager.n_averaged.fill_(1)  # G_ema already holds an average (or G's start): blend into it from step 1
    return averager


def ema_beta(config: GANConfig, step: int) -> float:
    """β of G's moving average at G step ``step`` (1, 2, …): ``ema_decay``, or its ramp-up (``ema_rampup``)."""
    if not config.ema_rampup:
        return config.ema_decay
    return min(config.ema_decay, 0.5 ** (1 / (config.ema_rampup * step)))  # half-life ≤ r · step steps


def _lookahead(run: GANRun, config: GANConfig) -> LookaheadMinmax | None:
    """Lookahead–minmax over G and D, its slow weights kept in the run (so checkpoints hold them), or None."""
    if config.lookahead_k == 0:
        run.G_slow = run.D_slow = None  # training on without it: old slow weights would no longer match
        return None
    if run.G_slow is None or run.D_slow is None:  # a new run, or one made without lookahead: start from here
        run.G_slow, run.D_slow = _frozen_copy(run.G), _frozen_copy(run.D)
    return LookaheadMinmax([(run.G, run.G_slow), (run.D, run.D_slow)], config.lookahead_k, config.lookahead_alpha)


def _adapt(ada: AdaptiveProbability, D_seen: AugmentedDiscriminator, out: dict, parallel,
           batch_size: int) -> None:
    """ADA after a D update: feed it r_t (averaged over the processes of a parallel run) and set D's p."""
    r_t = (parallel.average({"r_t": out["r_t"]}) if parallel else out)["r_t"]
    D_seen.p = ada.update(r_t, batch_size)  # a tensor: read once per ADA interval, not every step
    out["p_augment"] = torch.tensor(D_seen.p)


def train_gan(data: ImageData | torch.Tensor, config: GANConfig | None = None, *, device=None,
              checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
              stop_event=None, progress: bool = True, run: GANRun | None = None,
              parallel: Distributed | None = None) -> GANRun:
    """Train a GAN on ``data`` (images in [-1, 1]) and return the run.

    Args:
        data: an ``ImageData`` or an image tensor (N, C, H, W).
        config: a ``GANConfig``; defaults to ``GANConfig()``.
        device: None for the device ``gan_lab.setup()`` chose.
        checkpoint_dir: write checkpoints there (and resume from them with ``resume=True``).
        callbacks: ``cb(step, history)`` every ``config.callback_every`` steps (e.g. a training monitor).
        stop_event: a ``threading.Event`` that ends training when set, or a ``TimeLimit`` (see ``fit``).
        run: train this run's networks (from :func:`new_run`, or a finished run to continue it
            up to ``config.num_steps`` with its optimiser state).
        parallel: train as one process of a ``torchrun`` job (``gan_lab.distributed.start()``): G and D are
            wrapped in DistributedDataParallel, each process draws ``batch_size / world_size`` images, the logged
            values are averaged over the processes, and only rank 0 shows progress, calls ``callbacks`` and
            writes checkpoints (of the plain modules; every process reads them to resume).

    Example:
        >>> run = train_gan(gan_lab.data.load("pneumoniamnist"), GANConfig(num_steps=500))  # doctest: +SKIP
        >>> grid = run.sample(64)
    """
    config = config or GANConfig()
    if parallel and on_a_clock(stop_event):
        raise ValueError("a time limit stops each process of a torchrun job at its own step (and with decay_start "
                         "would set its own learning rates), which would part the replicas; give a number of steps "
                         "instead.")
    device = get_device(device)
    x = images_of(data).to(device)
    if run is None:
        run = new_run(data, config, device=device)
    G, D = run.G, run.D
    rates = {"G": config.lr_G, "D": config.lr_D}
    optimizers = begin(run, config, {"G": G, "D": D}, rates)
    averager = _averager(run, config)
    if config.arch == "dcgan":  # CPU convolutions run faster channels-last (benchmarks/README.md)
        x, = channels_last_on_cpu([net for net in (G, D, run.G_ema) if net is not None], x)
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    main = parallel is None or parallel.is_main
    batch_size = parallel.local_batch_size(config.batch_size) if parallel else config.batch_size
    # DDP averages the gradients of the network being updated: D_sync in d_step, G_sync in g_step. The other
    # network is passed unwrapped: G only makes D's fakes (no gradient; with reuse_fakes the last ones are made by
    # G_sync with a graph, whose backward comes in g_step), and D is frozen in g_step, where a wrapped D would
    # wait for gradients that never come.
    D_seen = AugmentedDiscriminator(D, config.augment) if config.augment else D  # D as the steps see it
    G_sync, D_sync = (parallel.wrap(G), parallel.wrap(D_seen)) if parallel else (G, D_seen)
    lookahead = _lookahead(run, config)  # after the wrap, which gives every process rank 0's weights
    ada = None
    if config.ada_target:  # ADA: p starts at 0, or where a continued or resumed run left it
        stored = stored_history(checkpoint_dir) if resume and checkpoint_dir is not None else None
        p = float((stored or run.history).get("p_augment", [0.0])[-1])
        ada = AdaptiveProbability(config.ada_target, config.ada_images, p=p)
        D_seen.p = p
    if run.pool is None or run.pool.size != config.pool_size:  # a run continued with another size starts afresh
        run.pool = ImagePool(config.pool_size, config.seed + (parallel.rank if parallel else 0))
    pool = run.pool  # of size 0 it passes the fakes on as they are

    def step_fn(step: int) -> dict:
        if parallel:
            parallel.seed(config.seed, step)  # each process its own batches; a resumed run draws the same ones
        factor = linear_decay_factor(run_progress(step, config.num_steps, stop_event), config.decay_start)
        set_learning_rates(optimizers, rates, factor)  # from the step (or the clock): a resumed run follows them
        for i in range(config.k):  # k discriminator steps per generator step
            real = sample_batch(x, batch_size)  # x ~ p_data
            z = torch.randn(batch_size, G.z_dim, device=device)  # z ~ p_z
            reused = config.reuse_fakes and i == config.k - 1  # G's update will reuse these fakes
            with torch.set_grad_enabled(reused):  # then G's graph is kept for it
                fake = G_sync(z) if reused else G(z)
            out = d_step(D_sync, optimizers["D"], real, pool.query(fake), loss_D_fn,  # G is fixed during D's update
                         mixed=config.mixed_batches)
            if config.lambda_r1 and step % R1_EVERY == 0:
                out |= r1_step(D_sync, optimizers["D"], real, config.lambda_r1, every=R1_EVERY)
            if ada is not None:
                _adapt(ada, D_seen, out, parallel, config.batch_size)
        beside = real if config.mixed_batches else None  # D's last real images, scored beside G's fakes
        keep = (top_k_count(step, config.batch_size, len(x), config.top_k, config.top_k_decay, batch_size)
                if config.top_k < 1 else None)
        if config.reuse_fakes:  # the fakes G made for D's last update, through the D just updated
            out.update(g_step(G_sync, D_seen, optimizers["G"], z, loss_G_fn, fake=fake, real=beside, keep=keep))
        else:
            z = torch.randn(batch_size, G.z_dim, device=device)  # fresh noise for G's update
            out.update(g_step(G_sync, D_seen, optimizers["G"], z, loss_G_fn, real=beside, keep=keep))
        if lookahead is not None:
            lookahead.step(step)  # every k steps: both players step back towards their slow weights
        if averager is not None:
            if config.ema_rampup:  # this step's β
                averager.multi_avg_fn = get_ema_multi_avg_fn(ema_beta(config, step))
            averager.update_parameters(G)  # θ_ema ← β θ_ema + (1 − β) θ (BatchNorm statistics too)
        out = parallel.average(out) if parallel else out
        if keep is not None:
            out["top_k"] = keep / batch_size  # the same in every process
        return out | {"lr_factor": factor} if config.decay_start < 1 else out  # the same in every process

    networks = {"G": G, "D": D, **({"G_ema": run.G_ema} if averager is not None else {}),
                **({"G_slow": run.G_slow, "D_slow": run.D_slow} if lookahead is not None else {})}
    return fit_run(run, step_fn, networks, checkpoint_meta(config, data), desc=f"{config.arch} GAN",
                   checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks if main else (),
                   stop_event=stop_event, progress=progress and main, write_checkpoints=main)


def checkpoint_meta(config: GANConfig, data: ImageData | torch.Tensor) -> dict:
    """The JSON stored with a GAN checkpoint: the config and what the data was."""
    return {**config.checkpoint_entry(), **data_meta(data)}


def load_gan(directory: str | Path, device=None) -> GANRun:
    """The GANRun saved in ``directory`` (rebuilt from JSON + safetensors; nothing is unpickled).

    Example:
        >>> run = load_gan("runs/dcgan")  # doctest: +SKIP
        >>> images = run.sample(16)       # (16, C, H, W) in [-1, 1]
    """
    return load_run(directory, GANRun, GANConfig, {"G", "D"}, "a GAN", device)


def load_or_train_gan(directory: str | Path, data: ImageData | torch.Tensor, config: GANConfig, *, device=None,
                      retrain: bool = False, **train_options) -> GANRun:
    """Load the GAN cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`. Notebooks use it with
    ``gan_lab.checkpoints.cache_dir(name)`` so a second run takes seconds.

    Args:
        train_options: passed on to :func:`train_gan` (``callbacks``, ``progress``, ``stop_event``, ``run``).
            Given ``run`` (networks built beforehand with :func:`new_run`, e.g. because a monitor holds
            ``run.G``), a loaded checkpoint's weights are copied into it.

    Returns:
        A GANRun either way (``run.history`` is the stored one when loaded).

    Example:
        >>> run = load_or_train_gan(cache_dir("02_dcgan"), data, GANConfig(num_steps=3000))  # doctest: +SKIP
    """
    def load(directory):
        loaded, run = load_gan(directory, device), train_options.get("run")
        if run is None:
            return loaded
        run.G.load_state_dict(loaded.G.state_dict())
        run.D.load_state_dict(loaded.D.state_dict())
        for name in ("G_ema", "G_slow", "D_slow"):  # the copies training keeps, where the stored run has them
            if getattr(loaded, name) is not None:
                mine = getattr(run, name)
                if mine is None:
                    mine = _frozen_copy(getattr(run, name[0]))  # of G or of D
                mine.load_state_dict(getattr(loaded, name).state_dict())
                setattr(run, name, mine)
        run.history, run.checkpoint_dir = loaded.history, loaded.checkpoint_dir
        return run

    return load_or_train(directory, config, checkpoint_meta(config, data),
                         partial(train_gan, data, config, device=device, **train_options), load, retrain=retrain)
