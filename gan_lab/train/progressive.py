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

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import ImageData
from ..device import get_device
from ..losses import adversarial_losses
from ..models.progressive import ProgressiveDiscriminator, ProgressiveGenerator
from .common import (
    Run,
    TrainConfig,
    begin,
    data_meta,
    data_name,
    draw_z,
    fit_run,
    frozen,
    images_of,
    load_or_train,
    load_run,
)
from .loop import History, sample_batch


@dataclass
class ProgressiveConfig(TrainConfig):
    """Everything that defines a progressive GAN run.

    Attributes:
        widths: channels of each stage, lowest resolution first; ``len(widths)`` stages.
        start: resolution of stage 0 (8 with three stages grows 8 → 16 → 32).
        stable_steps: steps at α = 1 in every stage.
        fade_steps: steps over which α rises from 0 to 1 when a stage begins (not in stage 0).
        loss, z_dim, batch_size, lr_G, lr_D: as in ``GANConfig``.
        num_steps: not a setting: all steps of the schedule,
            stable_steps + (stages − 1) · (fade_steps + stable_steps).
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "progressive"

    widths: tuple[int, ...] = (64, 32, 16)
    start: int = 8
    stable_steps: int = 400
    fade_steps: int = 400
    loss: str = "nonsaturating"
    z_dim: int = 64
    batch_size: int = 64
    num_steps: int = field(init=False, default=0, repr=False)  # set from the schedule
    lr_G: float = 2e-4
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        adversarial_losses(self.loss)
        self.widths = tuple(self.widths)  # a list from JSON compares equal to the tuple
        if not self.widths or min(self.widths) < 1 or self.start < 4 or self.stable_steps < 0 or self.fade_steps < 0:
            raise ValueError(f"Need ≥ 1 stage of positive widths, start ≥ 4 and step counts ≥ 0; got widths="
                             f"{self.widths}, start={self.start}, stable_steps={self.stable_steps}, "
                             f"fade_steps={self.fade_steps}.")
        self.num_steps = self.stable_steps + (len(self.widths) - 1) * (self.fade_steps + self.stable_steps)

    @property
    def size(self) -> int:
        """The final resolution, start · 2^(stages − 1)."""
        return self.start * 2 ** (len(self.widths) - 1)

    def checkpoint_entry(self) -> dict:
        """As ``TrainConfig``'s, without ``num_steps``, which the schedule fixes."""
        entry = super().checkpoint_entry()
        del entry[self.key]["num_steps"]
        return entry


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


def d_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor, loss_D_fn,
           stage: int, alpha: float) -> dict[str, torch.Tensor]:
    """One D update at (stage, α): descend L_D(D(x), D(G(z))).

    Args:
        real: real images at the stage's resolution (blended during a fade, see ``real_batch``).
        fake: G(z, stage, α), made without a graph (G is fixed during D's update).
    """
    real_logits, fake_logits = D(real, stage, alpha), D(fake, stage, alpha)
    loss_D = loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor, loss_G_fn, stage: int,
           alpha: float) -> dict[str, torch.Tensor]:
    """One G update at (stage, α) on fresh noise z (B, z_dim): descend L_G(D(G(z)))."""
    with frozen(D):  # the gradient flows through D into G; D's weights get none
        loss_G = loss_G_fn(D(G(z, stage, alpha), stage, alpha))
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {"loss_G": loss_G.detach()}


@dataclass
class ProgressiveRun(Run):
    """A trained (or training) progressive GAN: its networks, and what every run holds (see ``Run``)."""

    G: nn.Module
    D: nn.Module

    @torch.inference_mode()
    def sample(self, n: int = 64, seed: int | None = 0, stage: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """``n`` images (n, C, r, r) in [-1, 1] at ``stage`` (default: full size), on the CPU."""
        z = draw_z(n, self.G.z_dim, next(self.G.parameters()).device, seed)
        return self.G.eval()(z, stage, alpha).cpu()

    def snapshots(self) -> list[tuple[int, int, float, torch.Tensor]]:
        """(step, stage, α, 8 images (8, C, r, r)) that G drew *during* training (see ``snapshot_steps``).

        The final G cannot show its own past: the 8-px read-out is not trained after stage 0.
        """
        return [(s["step"], s["stage"], s["alpha"], torch.tensor(s["images"]))
                for s in self.history.get("snapshots", [])]


def train_progressive(data: ImageData | torch.Tensor, config: ProgressiveConfig | None = None, *, device=None,
                      checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
                      stop_event=None, progress: bool = True) -> ProgressiveRun:
    """Train a progressive GAN on images (N, C, size, size) in [-1, 1], size = ``config.size``.

    Args:
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.

    Example:
        >>> run = train_progressive(load("phantoms", size=32), ProgressiveConfig())  # doctest: +SKIP
        >>> run.sample(16, stage=0).shape   # what it drew at 8 px
        torch.Size([16, 1, 8, 8])
    """
    config = config or ProgressiveConfig()
    device = get_device(device)
    images = images_of(data)
    if images.shape[-1] != config.size:
        raise ValueError(f"Expected images (N, C, {config.size}, {config.size}) for widths {config.widths} from "
                         f"{config.start} px; got {tuple(images.shape)}. Load the data at size={config.size}.")
    levels = pyramid(images.to(device), len(config.widths))
    snapshots, z_fixed = {}, draw_z(8, config.z_dim, device, seed=0)
    torch.manual_seed(config.seed)
    G = ProgressiveGenerator(config.z_dim, images.shape[1], config.widths, config.start).to(device)
    D = ProgressiveDiscriminator(images.shape[1], config.widths, config.start).to(device)
    run = ProgressiveRun(G, D, config=config, data_name=data_name(data))
    optimizers = begin(run, config, {"G": G, "D": D}, {"G": config.lr_G, "D": config.lr_D})
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    snapshot_at = set(snapshot_steps(config))

    def step_fn(step: int) -> dict:
        stage, alpha = schedule(step, config)
        real = real_batch(levels, config.batch_size, stage, alpha)
        with torch.no_grad():
            fake = G(draw_z(config.batch_size, G.z_dim, device), stage, alpha)  # G is fixed during D's update
        out = d_step(D, optimizers["D"], real, fake, loss_D_fn, stage, alpha)
        out |= g_step(G, D, optimizers["G"], draw_z(config.batch_size, G.z_dim, device), loss_G_fn, stage, alpha)
        if step in snapshot_at:  # what G draws at this point of its growth, kept in the history (JSON)
            with torch.no_grad():
                images = G(z_fixed, stage, alpha).cpu().round(decimals=3).tolist()
            snapshots[step] = {"step": step, "stage": stage, "alpha": alpha, "images": images}
        return out | {"stage": float(stage), "alpha": alpha}

    def keep_snapshots(step: int, history: History) -> None:  # runs before each checkpoint is written
        kept = {s["step"]: s for s in history.get("snapshots", [])} | snapshots  # a resumed run adds to its own
        history["snapshots"] = [kept[s] for s in sorted(kept)]  # a list, as every entry of a history

    return fit_run(run, step_fn, {"G": G, "D": D}, checkpoint_meta(config, data),
                   desc=f"progressive GAN {config.start}→{config.size} px", checkpoint_dir=checkpoint_dir,
                   resume=resume, callbacks=[keep_snapshots, *callbacks], stop_event=stop_event, progress=progress)


def checkpoint_meta(config: ProgressiveConfig, data: ImageData | torch.Tensor) -> dict:
    """The JSON stored with the checkpoint: the config and what the data was."""
    return {**config.checkpoint_entry(), **data_meta(data)}


def load_progressive(directory: str | Path, device=None) -> ProgressiveRun:
    """The ProgressiveRun saved in ``directory``."""
    return load_run(directory, ProgressiveRun, ProgressiveConfig, {"G", "D"}, "a progressive GAN", device)


def load_or_train_progressive(directory: str | Path, data: ImageData | torch.Tensor, config: ProgressiveConfig, *,
                              device=None, retrain: bool = False, **train_options) -> ProgressiveRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` (``callbacks``,
    ``progress``, ``stop_event``) go to :func:`train_progressive`.

    Example:
        >>> run = load_or_train_progressive(cache_dir("09_progan"), data, ProgressiveConfig())  # doctest: +SKIP
    """
    return load_or_train(directory, config, checkpoint_meta(config, data),
                         partial(train_progressive, data, config, device=device, **train_options),
                         partial(load_progressive, device=device), retrain=retrain)
