"""SegAN (Xue et al. 2018): a segmentor S against a multi-scale critic C, as two step functions.

The game, with x an image, y its true mask and ∘ pixel-wise masking:

    min_θS max_θC  L(θS, θC) = 1/N Σ_n ℓ_mae(f_C(x_n ∘ S(x_n)), f_C(x_n ∘ y_n))

    ℓ_mae(f_C(a), f_C(b)) = 1/(L+1) Σ_{i=0}^{L} w_i · mean |f_C^i(a) − f_C^i(b)|

with f_C^0 the masked image itself and f_C^1 … f_C^L the outputs of C's L layers.
This is gan_lab's version: the paper averages over the layers i = 1 … L only, and
the official code (github.com/YuanXue1993/SegAN) adds the input term with scale
factors 1, 1, 2, 2, 2, 2, 4 and one mean over all concatenated features; see
:func:`gan_lab.losses.segmentation.multiscale_l1`.

C ascends L (it learns features in which the predicted and the true masked
images differ most, at every scale) and has its weights clipped to [−c, c]
after each update, as the official code does (c = 0.05); S descends L,
optionally plus a soft Dice term (the official code adds one; the paper's S
learns from C's gradients alone) and BCE. With ``lambda_adv = 0`` the very same
trainer is the plain U-Net baseline trained with Dice (+ BCE) alone.

Code names → paper: S (segmentor), C (critic), f_C^i (C's features at scale i),
``multiscale_l1`` (ℓ_mae, in :mod:`gan_lab.losses.segmentation`), ``clip`` (c),
``prob`` (S(x) after the sigmoid).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data import load
from ..data.base import ImageData
from ..device import get_device
from ..losses.segmentation import multiscale_l1, soft_dice_loss
from ..models.segan import SegANCritic
from ..models.unet import UNet
from .common import Run, TrainConfig, begin, fingerprint_entry, fit_run, frozen, in_batches, load_or_train, load_run
from .loop import sample_batch
from .memory_format import channels_last_on_cpu


def mask_image(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x ∘ mask: (B, C, H, W) images times (B, 1, H, W) maps in [0, 1], broadcast over channels.

    Images stay in [-1, 1] (centred, as the official code's mean/std normalisation),
    so a dark background pixel wrongly marked as foreground turns from 0 into −1
    and C can see the mistake; with images in [0, 1] it would stay 0 and be invisible.
    """
    return x * mask


def critic_features(C: nn.Module, x: torch.Tensor, prob: torch.Tensor, y: torch.Tensor):
    """f_C(x ∘ S(x)) and f_C(x ∘ y) from ONE pass of C over both halves of a (2B, …) batch.

    A deviation from the official code, which calls C twice (``NetC(output_masked)`` and
    ``NetC(target_masked)`` in train.py), so in training mode each call's batch norm uses its own
    half's statistics. One pass makes C's batch norm use shared statistics, so the two feature
    lists differ only because the masks differ; with two passes batch norm would partly normalise
    away a difference in a channel's overall level between the predicted and the true half.
    """
    features = C(torch.cat([mask_image(x, prob), mask_image(x, y)]))
    B = x.shape[0]
    return [f[:B] for f in features], [f[B:] for f in features]


@torch.no_grad()
def clip_weights(C: nn.Module, clip: float) -> None:
    """Clamp every parameter of C into [−clip, clip] (the official code's, after WGAN's, Lipschitz device)."""
    for p in C.parameters():
        p.clamp_(-clip, clip)


def c_step(C: nn.Module, opt_C: torch.optim.Optimizer, x: torch.Tensor, prob: torch.Tensor, y: torch.Tensor,
           clip: float | None = 0.05, weights: list[float] | None = None) -> dict[str, torch.Tensor]:
    """One critic update: ascend ℓ_mae (descend −ℓ_mae), then clip C's weights.

    Args:
        x: images (B, C, H, W); y: true masks (B, 1, H, W) in {0, 1}.
        prob: S(x) (B, 1, H, W) in [0, 1]; detached here because S is fixed during C's update.

    Returns:
        ``{"loss_C"}`` = −ℓ_mae: a detached scalar.
    """
    f_pred, f_true = critic_features(C, x, prob.detach(), y)
    loss_C = -multiscale_l1(f_pred, f_true, weights)  # C maximises the multi-scale distance
    opt_C.zero_grad(set_to_none=True)
    loss_C.backward()
    opt_C.step()
    if clip:
        clip_weights(C, clip)
    return {"loss_C": loss_C.detach()}


def s_step(C: nn.Module | None, opt_S: torch.optim.Optimizer, x: torch.Tensor, logits: torch.Tensor,
           y: torch.Tensor, lambda_adv: float = 1.0, lambda_dice: float = 1.0, lambda_bce: float = 0.0,
           weights: list[float] | None = None) -> dict[str, torch.Tensor]:
    """One segmentor update: descend λ_adv·ℓ_mae + λ_dice·(1 − soft Dice) + λ_bce·BCE.

    Args:
        C: the critic, held fixed (unused, and may be None, when ``lambda_adv`` is 0: the baseline).
        x: images (B, C, H, W); y: true masks (B, 1, H, W) in {0, 1}.
        logits: S(x) before the sigmoid, (B, 1, H, W), still attached to S's graph.

    Returns:
        The terms computed (``loss_adv`` = ℓ_mae, ``loss_dice``, ``loss_bce``) and ``loss_S``: detached scalars.
    """
    prob = torch.sigmoid(logits)
    out: dict[str, torch.Tensor] = {}
    loss_S = logits.new_zeros(())
    with frozen(C):  # the gradient flows through C into S; C's weights get none
        if lambda_adv:
            loss_adv = multiscale_l1(*critic_features(C, x, prob, y), weights)
            loss_S = loss_S + lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
        if lambda_dice:
            loss_dice = soft_dice_loss(prob, y)
            loss_S = loss_S + lambda_dice * loss_dice
            out["loss_dice"] = loss_dice.detach()
        if lambda_bce:
            loss_bce = F.binary_cross_entropy_with_logits(logits, y)
            loss_S = loss_S + lambda_bce * loss_bce
            out["loss_bce"] = loss_bce.detach()
        opt_S.zero_grad(set_to_none=True)
        loss_S.backward()
    opt_S.step()
    out["loss_S"] = loss_S.detach()
    return out


@dataclass
class SegANConfig(TrainConfig):
    """Everything that defines a SegAN (or Dice-baseline) run; notebooks override by keyword.

    Attributes:
        width: U-Net (S) channels after the stem.
        critic_width: channels of C's first layer.
        norm: normalisation in S and C ("batch", "instance", "none").
        lambda_adv: weight of the multi-scale L1 term; 0 turns SegAN into the Dice/BCE baseline.
        lambda_dice: weight of the soft Dice term. The official code adds a Dice term to ℓ_mae in
            S's loss (train.py: ``loss_G_joint``); the paper's objective has none. Our reading of why
            it helps: early on C's features are random, so ℓ_mae alone gives S a weak, noisy
            signal; the Dice term pulls S towards the right region while C learns.
        lambda_bce: weight of pixel-wise binary cross-entropy.
        clip: C's weights are clipped to [−clip, clip] after each update (official code: 0.05); None: off.
        scale_weights: per-scale weights w_i of ℓ_mae, input first (None: equal; see ``multiscale_l1``).
        k: critic updates per segmentor update.
        batch_size, num_steps: tiles per step and segmentor updates.
        lr_S, lr_C: Adam's learning rates of S and C (official code: 2e-4, β1 = 0.5, as the defaults).
        augment: random 90° rotations and flips of each batch (images and masks together).
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "segan"

    width: int = 16
    critic_width: int = 16
    norm: str = "batch"
    lambda_adv: float = 1.0
    lambda_dice: float = 1.0
    lambda_bce: float = 0.0
    clip: float | None = 0.05
    scale_weights: tuple[float, ...] | None = None
    k: int = 1
    batch_size: int = 16
    lr_S: float = 2e-4
    lr_C: float = 2e-4
    augment: bool = True

    def __post_init__(self):
        super().__post_init__()
        if not (self.lambda_adv or self.lambda_dice or self.lambda_bce):
            raise ValueError("lambda_adv, lambda_dice and lambda_bce must be not all 0 (S would learn nothing); "
                             "set one > 0, e.g. lambda_dice=1.")
        if self.clip is not None and self.clip <= 0:
            raise ValueError(f"clip must be positive or None (no clipping), not {self.clip}.")
        if self.k < 1:
            raise ValueError(f"k (critic updates per segmentor update) must be ≥ 1, not {self.k}.")

    @property
    def adversarial(self) -> bool:
        """True for SegAN, False for the baseline (no critic is built or trained)."""
        return self.lambda_adv > 0


def baseline_config(config: SegANConfig, lambda_bce: float | None = None) -> SegANConfig:
    """The same run without the critic: Dice (and, with ``lambda_bce``, BCE) only."""
    bce = config.lambda_bce if lambda_bce is None else lambda_bce
    return dataclasses.replace(config, lambda_adv=0.0, lambda_dice=config.lambda_dice or 1.0, lambda_bce=bce)


def augment_batch(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One random 90° rotation and horizontal flip, the same for images and masks (nuclei have no up)."""
    k = int(torch.randint(4, ()))
    x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
    if torch.rand(()) < 0.5:
        x, y = x.flip(-1), y.flip(-1)
    return x, y


@dataclass
class SegANRun(Run):
    """A trained (or training) segmentor S and its critic C (None for the baseline); see also ``Run``."""

    S: nn.Module
    C: nn.Module | None = None

    def predict(self, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """S's probabilities (N, 1, H, W) in [0, 1] on the CPU, in eval mode, ``batch_size`` at a time."""
        return torch.sigmoid(in_batches(self.S, images, batch_size=batch_size))


def build_segan(config: SegANConfig, channels: int = 1, size: int = 64) -> tuple[nn.Module, nn.Module | None]:
    """A fresh S (U-Net giving logits) and, when adversarial, C, for tiles (channels, size, size)."""
    torch.manual_seed(config.seed)
    S = UNet(channels, 1, width=config.width, size=size, norm=config.norm, out_activation="none")
    C = SegANCritic(channels, config.critic_width, size=size, norm=config.norm) if config.adversarial else None
    if C is not None and config.clip:
        clip_weights(C, config.clip)  # start inside the constraint set
    return S, C


def segmentation_data(tile: int = 64, fallback: bool = True, **options) -> tuple[ImageData, ImageData]:
    """Training and held-out tiles with masks: real nuclei split by image, or phantom lesions offline.

    Args:
        tile: tile side in pixels.
        fallback: without the nuclei images, print a banner and use phantom lesion masks
            (train and test drawn from different seeds) instead of raising.
        **options: passed to ``gan_lab.data.load_nuclei`` (``kind``, ``scale``, ``seed``, ``root``, …).

    Returns:
        ``(train, test)``; for nuclei, ``info["image_ids"]`` names each tile's source image and no
        image has tiles in both.
    """
    train, test = (load("nuclei", split, size=tile, fallback=fallback, **options) for split in ("train", "test"))
    shared = set(train.info.get("image_ids", ())) & set(test.info.get("image_ids", ()))
    if shared:  # a tile-level split would leak neighbouring tiles of one image into the test set
        raise RuntimeError(f"{len(shared)} images have tiles in both train and test, e.g. {sorted(shared)[0]}.")
    return train, test


def _check_data(data: ImageData) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(data, ImageData) or data.masks is None:
        raise ValueError("train_segan needs an ImageData with masks, e.g. gan_lab.data.load_nuclei(split='train') "
                         "or gan_lab.data.phantom_classes(n, size).")
    if data.images.dim() != 4 or data.masks.shape != (len(data), 1, *data.images.shape[-2:]):
        raise ValueError(f"Expected images (N, C, H, W) and masks (N, 1, H, W); got {tuple(data.images.shape)} "
                         f"and {tuple(data.masks.shape)}.")
    return data.images, data.masks.float()


def train_segan(data: ImageData, config: SegANConfig | None = None, *, device=None,
                checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(), stop_event=None,
                progress: bool = True, run: SegANRun | None = None) -> SegANRun:
    """Train SegAN (or, with ``lambda_adv=0``, the Dice/BCE U-Net baseline) on tiles with masks.

    Each step draws one batch, runs S once, updates C ``k`` times on the
    detached prediction, then updates S against the updated C (pix2pix's order).

    Args:
        data: ``ImageData`` with images (N, C, H, W) in [-1, 1] and masks (N, 1, H, W) in {0, 1}.
        config: a ``SegANConfig``; defaults to ``SegANConfig()``.
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        run: continue training this run's networks, up to ``config.num_steps``, with its optimiser state.

    Example:
        >>> train = gan_lab.data.load_nuclei(split="train")  # doctest: +SKIP
        >>> segan = train_segan(train, SegANConfig(num_steps=500))
        >>> baseline = train_segan(train, baseline_config(SegANConfig(num_steps=500)))
    """
    config = config or SegANConfig()
    device = get_device(device)
    images, masks = _check_data(data)
    x_all, y_all = images.to(device), masks.to(device)
    if run is None:
        S, C = build_segan(config, x_all.shape[1], x_all.shape[-1])
        run = SegANRun(S.to(device), C.to(device) if C is not None else None, config=config, data_name=data.name)
    S, C = run.S, run.C
    models = {"S": S} if C is None else {"S": S, "C": C}
    optimizers = begin(run, config, models, {"S": config.lr_S, "C": config.lr_C})
    x_all, y_all = channels_last_on_cpu(models.values(), x_all, y_all)  # faster CPU convolutions (benchmarks/README.md)

    def step_fn(step: int) -> dict:
        x, y = sample_batch(x_all, config.batch_size, y_all)
        if config.augment:
            x, y = augment_batch(x, y)
        logits = S(x)  # (B, 1, H, W); one forward serves both updates
        out = {}
        if C is not None:
            for _ in range(config.k):
                out = c_step(C, optimizers["C"], x, torch.sigmoid(logits), y, config.clip, config.scale_weights)
        out.update(s_step(C, optimizers["S"], x, logits, y, config.lambda_adv, config.lambda_dice,
                          config.lambda_bce, config.scale_weights))
        return out

    return fit_run(run, step_fn, models, checkpoint_meta(config, data), desc="U-Net (Dice)" if C is None else "SegAN",
                   checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, stop_event=stop_event,
                   progress=progress)


def checkpoint_meta(config: SegANConfig, data: ImageData) -> dict:
    """The JSON stored with a SegAN checkpoint: the config and what the tiles were (a fingerprint of the tiles
    and their masks)."""
    return {**config.checkpoint_entry(), "data": data.name, "channels": data.channels, "size": data.size,
            **fingerprint_entry(*_check_data(data))}


def load_segan(directory: str | Path, device=None) -> SegANRun:
    """The SegANRun saved in ``directory`` (S, and C unless it is the baseline)."""
    return load_run(directory, SegANRun, SegANConfig, {"S"}, "a SegAN", device)


def load_or_train_segan(directory: str | Path, data: ImageData, config: SegANConfig, *, device=None,
                        retrain: bool = False, **train_options) -> SegANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train` (change any knob and it retrains from scratch, an
    interrupted run resumes); ``train_options`` go to :func:`train_segan` (``callbacks``, ``progress``, …).
    """
    return load_or_train(directory, config, checkpoint_meta(config, data),
                         partial(train_segan, data, config, device=device, **train_options),
                         partial(load_segan, device=device), retrain=retrain)
