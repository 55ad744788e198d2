"""Progressive growing of GANs (Karras et al. 2018): train at 8 px, then grow to 16 and 32 px with fade-in.

The schedule has one stage per resolution. Stage 0 trains ``stable_steps``;
every later stage first fades its new blocks in over ``fade_steps`` (α rises
linearly from 0 to 1) and then trains ``stable_steps`` at α = 1. The real
images are shown at the current resolution (average-pooled), and during a
fade they are blended the same way as G's output,

    x_s(α) = α · x_s + (1 − α) · up(x_{s−1}),

so D never sees real and fake images of different sharpness.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoints
from ..data.base import ImageData
from ..device import get_device
from ..losses import adversarial_losses
from ..models.progressive import ProgressiveDiscriminator, ProgressiveGenerator
from .conditional import frozen
from .gan import LOOP_ONLY_FIELDS, data_meta, data_name, make_optimizers
from .loop import History, fit, sample_batch


@dataclass
class ProgressiveConfig:
    """Everything that defines a progressive GAN run.

    Attributes:
        widths: channels of each stage, lowest resolution first; ``len(widths)`` stages.
        start: resolution of stage 0 (8 with three stages grows 8 → 16 → 32).
        stable_steps: steps at α = 1 in every stage.
        fade_steps: steps over which α rises from 0 to 1 when a stage begins (not in stage 0).
        loss, z_dim, batch_size, lr_G, lr_D, beta1, beta2: as in ``GANConfig``.
        log_every, checkpoint_every, callback_every: loop intervals (see ``fit``).
        seed: seed for weights and sampling.
    """

    widths: tuple[int, ...] = (64, 32, 16)
    start: int = 8
    stable_steps: int = 400
    fade_steps: int = 400
    loss: str = "nonsaturating"
    z_dim: int = 64
    batch_size: int = 64
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    log_every: int = 10
    checkpoint_every: int = 500
    callback_every: int = 100
    seed: int = 0

    def __post_init__(self):
        adversarial_losses(self.loss)
        self.widths = tuple(self.widths)  # a list from JSON compares equal to the tuple
        if not self.widths or min(self.widths) < 1 or self.start < 4 or self.stable_steps < 0 or self.fade_steps < 0:
            raise ValueError(f"Need ≥ 1 stage of positive widths, start ≥ 4 and step counts ≥ 0; got widths="
                             f"{self.widths}, start={self.start}, stable_steps={self.stable_steps}, "
                             f"fade_steps={self.fade_steps}.")

    @property
    def size(self) -> int:
        """The final resolution, start · 2^(stages − 1)."""
        return self.start * 2 ** (len(self.widths) - 1)

    @property
    def num_steps(self) -> int:
        """All steps of the schedule: stable_steps + (stages − 1) · (fade_steps + stable_steps)."""
        return self.stable_steps + (len(self.widths) - 1) * (self.fade_steps + self.stable_steps)


def schedule(step: int, config: ProgressiveConfig) -> tuple[int, float]:
    """(stage, α) of training step ``step`` (1-based): the fade-in schedule of the whole run."""
    remaining = step - 1 - config.stable_steps  # steps after stage 0
    if remaining < 0:
        return 0, 1.0
    stage_length = config.fade_steps + config.stable_steps
    stage = min(1 + remaining // stage_length, len(config.widths) - 1) if stage_length else len(config.widths) - 1
    into = remaining - (stage - 1) * stage_length
    alpha = min(1.0, (into + 1) / config.fade_steps) if config.fade_steps else 1.0
    return stage, alpha


def pyramid(images: torch.Tensor, num_stages: int) -> list[torch.Tensor]:
    """The real images at every stage's resolution (average pooling), lowest first: [(N, C, r_s, r_s)]."""
    return [F.avg_pool2d(images, 2 ** (num_stages - 1 - s)) if s < num_stages - 1 else images
            for s in range(num_stages)]


def real_batch(levels: list[torch.Tensor], batch_size: int, stage: int, alpha: float) -> torch.Tensor:
    """A batch of real images at ``stage``, blended with the previous resolution during a fade."""
    if stage == 0 or alpha >= 1.0:
        return sample_batch(levels[stage], batch_size)
    x, x_low = sample_batch(levels[stage], batch_size, levels[stage - 1])  # the same images at both resolutions
    return alpha * x + (1 - alpha) * F.interpolate(x_low, scale_factor=2, mode="nearest")


def snapshot_steps(config: ProgressiveConfig) -> list[int]:
    """Steps after which training draws a fixed-z sample: the end of stage 0, then every fade's middle and end."""
    steps, end = [config.stable_steps], config.stable_steps
    for _ in range(1, len(config.widths)):
        steps += [end + max(1, config.fade_steps // 2), end + config.fade_steps + config.stable_steps]
        end = steps[-1]
    return sorted({s for s in steps if s >= 1})


def d_step(G, D, opt_D, real: torch.Tensor, loss_D_fn, stage: int, alpha: float) -> dict[str, torch.Tensor]:
    """One D update at (stage, α): descend L_D(D(x), D(G(z)))."""
    z = torch.randn(real.shape[0], G.z_dim, device=real.device)
    with torch.no_grad():
        fake = G(z, stage, alpha)
    real_logits, fake_logits = D(real, stage, alpha), D(fake, stage, alpha)
    loss_D = loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G, D, opt_G, batch_size: int, loss_G_fn, stage: int, alpha: float, device) -> dict[str, torch.Tensor]:
    """One G update at (stage, α): descend L_G(D(G(z)))."""
    z = torch.randn(batch_size, G.z_dim, device=device)
    with frozen(D):
        loss_G = loss_G_fn(D(G(z, stage, alpha), stage, alpha))
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {"loss_G": loss_G.detach()}


@dataclass
class ProgressiveRun:
    """A trained progressive GAN."""

    G: nn.Module
    D: nn.Module
    history: History
    config: ProgressiveConfig
    data_name: str = ""
    checkpoint_dir: Path | None = None
    optimizers: dict | None = field(default=None, repr=False)

    @torch.inference_mode()
    def sample(self, n: int = 64, seed: int | None = 0, stage: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """``n`` images (n, C, r, r) in [-1, 1] at ``stage`` (default: full size), on the CPU."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.G.z_dim, generator=gen).to(next(self.G.parameters()).device)
        return self.G.eval()(z, stage, alpha).cpu()

    def snapshots(self) -> list[tuple[int, int, float, torch.Tensor]]:
        """(step, stage, α, 8 images (8, C, r, r)) that G drew *during* training (see ``snapshot_steps``).

        The final G cannot show its own past: the 8-px read-out is not trained after stage 0.
        """
        stored = self.history.get("snapshots", {})
        return [(int(step), s["stage"], s["alpha"], torch.tensor(s["images"]))
                for step, s in sorted(stored.items(), key=lambda item: int(item[0]))]


def train_progressive(data: ImageData | torch.Tensor, config: ProgressiveConfig | None = None, *, device=None,
                      checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
                      progress: bool = True) -> ProgressiveRun:
    """Train a progressive GAN on images (N, C, size, size) in [-1, 1], size = ``config.size``.

    Example:
        >>> run = train_progressive(load("phantoms", size=32), ProgressiveConfig())  # doctest: +SKIP
        >>> run.sample(16, stage=0).shape   # what it drew at 8 px
        torch.Size([16, 1, 8, 8])
    """
    config = config or ProgressiveConfig()
    device = get_device(device)
    images = data.images if isinstance(data, ImageData) else data
    if images.dim() != 4 or images.shape[-1] != config.size:
        raise ValueError(f"Expected images (N, C, {config.size}, {config.size}) for widths {config.widths} from "
                         f"{config.start} px; got {tuple(images.shape)}. Load the data at size={config.size}.")
    levels = pyramid(images.to(device), len(config.widths))
    snapshots, z_fixed = {}, torch.randn(8, config.z_dim, generator=torch.Generator().manual_seed(0)).to(device)
    torch.manual_seed(config.seed)
    G = ProgressiveGenerator(config.z_dim, images.shape[1], config.widths, config.start).to(device)
    D = ProgressiveDiscriminator(images.shape[1], config.widths, config.start).to(device)
    optimizers = make_optimizers(G, D, config)
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    snapshot_at = set(snapshot_steps(config))

    def step_fn(step: int) -> dict:
        stage, alpha = schedule(step, config)
        out = d_step(G, D, optimizers["D"], real_batch(levels, config.batch_size, stage, alpha), loss_D_fn,
                     stage, alpha)
        out.update(g_step(G, D, optimizers["G"], config.batch_size, loss_G_fn, stage, alpha, device))
        if step in snapshot_at:  # what G draws at this point of its growth, kept in the history (JSON)
            with torch.no_grad():
                images = G(z_fixed, stage, alpha).cpu()
            snapshots[str(step)] = {"stage": stage, "alpha": alpha, "images": images.round(decimals=3).tolist()}
        return out | {"stage": float(stage), "alpha": alpha}

    def keep_snapshots(step: int, history: History) -> None:  # runs before each checkpoint is written
        history.setdefault("snapshots", {}).update(snapshots)

    history = fit(step_fn, config.num_steps, models={"G": G, "D": D}, optimizers=optimizers,
                  config=checkpoint_meta(config, data), checkpoint_dir=checkpoint_dir,
                  checkpoint_every=config.checkpoint_every, resume=resume, log_every=config.log_every,
                  callbacks=[keep_snapshots, *callbacks], callback_every=config.callback_every, progress=progress,
                  desc=f"progressive GAN {config.start}→{config.size} px")
    G.eval()
    D.eval()
    return ProgressiveRun(G, D, history, config, data_name(data), Path(checkpoint_dir) if checkpoint_dir else None,
                          optimizers)


def checkpoint_meta(config: ProgressiveConfig, data: ImageData | torch.Tensor) -> dict:
    """The JSON stored with the checkpoint: the config and what the data was."""
    return {"progressive": dataclasses.asdict(config), **data_meta(data)}


def load_progressive(directory: str | Path, device=None) -> ProgressiveRun:
    """The ProgressiveRun saved in ``directory``."""
    ckpt = checkpoints.load_kind(directory, "progressive", {"G", "D"}, "a progressive GAN", device)
    return ProgressiveRun(ckpt.models["G"], ckpt.models["D"], ckpt.history,
                          ProgressiveConfig(**ckpt.config["progressive"]), ckpt.config.get("data", ""),
                          Path(directory))


def load_or_train_progressive(directory: str | Path, data: ImageData | torch.Tensor, config: ProgressiveConfig, *,
                              device=None, callbacks=(), progress: bool = True,
                              retrain: bool = False) -> ProgressiveRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    Example:
        >>> run = load_or_train_progressive(cache_dir("09_progan"), data, ProgressiveConfig())  # doctest: +SKIP
    """
    status = checkpoints.cache_status(directory, checkpoint_meta(config, data), num_steps=config.num_steps,
                                      ignore=tuple(f"progressive.{k}" for k in LOOP_ONLY_FIELDS), retrain=retrain)
    if status == "load":
        run = load_progressive(directory, device)
        run.config = config
        return run
    return train_progressive(data, config, device=device, checkpoint_dir=directory, resume=status == "resume",
                             callbacks=callbacks, progress=progress)
