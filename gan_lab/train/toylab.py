"""The toy GAN lab engine: a 2-D GAN you can step one update at a time (no widget here).

In the spirit of GAN Lab (Kahng et al. 2018): a small G maps 1-D or 2-D noise
to points in the plane, a small D scores points, and every quantity the lab
draws is computed here as plain arrays — D's output on a grid, D* where the
densities are known, the generator manifold, and −∇_x L_G at every fake (the
direction in which G's update pushes it).

The players are updated by the image trainers' own step functions
(``gan_lab.train.gan.d_step`` / ``g_step``; for the Wasserstein loss WGAN-GP's
critic step ``gan_lab.train.wgan.c_step``): only the data is two-dimensional.
Each iteration is one call of ``step_fn`` inside the generic ``fit`` loop, so
the history and the NaN guard come from there. After every
iteration the losses are measured on a fixed evaluation set (``n_eval`` real
points and ``n_eval`` noise vectors drawn at reset), which makes the curves
smooth and every logged key present at every step.

Two ways into the game for a lecture: :meth:`ToyLab.stages` takes one iteration apart
into its four stages (D before and after its update, G before and after its update), each
carrying the arrays a picture of it needs; :func:`load_example` starts from a ready-trained,
cached state ("converged ring", "mode collapse on the ring", "saturated minimax generator").

Example:
    >>> lab = ToyLab(dataset="ring", loss="nonsaturating")
    >>> lab.step_D(); lab.step_G(); lab.update("both", 100)
    >>> lab.evaluate()["modes"]          # fraction of the 8 ring modes covered  # doctest: +SKIP
    >>> for stage in lab.stages(): print(stage.caption)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import checkpoints
from ..data.toy import Drawing, GaussianMixture, make_toy, mode_coverage
from ..device import get_device, single_thread
from ..losses import adversarial_losses
from ..models.mlp import MLPDiscriminator, MLPGenerator
from ..theory import divergences_on_grid, grid_points, kde_on_grid, optimal_discriminator, smooth_on_grid
from .gan import d_step, g_step
from .loop import fit
from .wgan import c_step


@dataclass
class ToyConfig:
    """Everything that defines a toy GAN (the widget's controls, one field each).

    Attributes:
        dataset: a name from ``gan_lab.data.toy.TOY_DATASETS``.
        z_dim: latent size, 1 or 2 (so the generator manifold can be drawn).
        noise: p_z, "gaussian" N(0, I) or "uniform" U[−1, 1]^z_dim.
        loss: "minimax", "nonsaturating", "least_squares" or "wasserstein" (with gradient penalty).
        optimizer: "adam" (β = 0.5, 0.999) or "sgd".
        lr_D, lr_G: learning rates.
        k: discriminator updates per generator update (Algorithm 1's k).
        width, depth: hidden units and hidden layers of both G and D.
        batch_size: samples per update.
        lambda_gp: gradient-penalty weight for "wasserstein"; 0.1 as in Gulrajani et al.'s own 2-D toy code.
        seed: seed for weights, evaluation set and training noise.
    """

    dataset: str = "ring"
    z_dim: int = 2
    noise: str = "gaussian"
    loss: str = "nonsaturating"
    optimizer: str = "adam"
    lr_D: float = 1e-3
    lr_G: float = 1e-3
    k: int = 1
    width: int = 64
    depth: int = 2
    batch_size: int = 256
    lambda_gp: float = 0.1
    seed: int = 0

    def __post_init__(self):
        make_toy(self.dataset)  # fails early, with the list of valid names
        adversarial_losses(self.loss)
        checks = {"z_dim must be 1 or 2": self.z_dim in (1, 2),
                  "noise must be 'gaussian' or 'uniform'": self.noise in ("gaussian", "uniform"),
                  "optimizer must be 'adam' or 'sgd'": self.optimizer in ("adam", "sgd"),
                  "k, width, depth and batch_size must be ≥ 1": min(self.k, self.width, self.depth,
                                                                     self.batch_size) >= 1,
                  "learning rates must be > 0": min(self.lr_D, self.lr_G) > 0,
                  "lambda_gp must be ≥ 0": self.lambda_gp >= 0}
        bad = [msg for msg, ok in checks.items() if not ok]
        if bad:
            raise ValueError("Invalid ToyConfig: " + "; ".join(bad) + ".")


def generator_gradients(D: nn.Module, fake: torch.Tensor, loss_G_fn) -> tuple[torch.Tensor, torch.Tensor]:
    """−∂ℓ_G/∂x at each fake x (n, 2): where the generator loss wants to move it, and D's outputs there (n,).

    ℓ_G is the per-sample generator loss (L_G is its mean, hence the factor n).
    """
    fake = fake.detach().requires_grad_(True)
    fake_out = D(fake)
    (grad,) = torch.autograd.grad(loss_G_fn(fake_out), fake)
    return -grad * len(fake), fake_out.detach()


@torch.no_grad()
def discriminator_heatmap(D: nn.Module, extent, resolution: int = 64, output: str = "probability",
                          device=None) -> np.ndarray:
    """D on a ``resolution²`` grid over ``extent`` as an array (res, res), row 0 at the top (y max).

    Args:
        D: any network mapping (n, 2) points to (n,) logits or scores (a discriminator or a WGAN critic).
        output: "probability" for σ(logit) (minimax / non-saturating GANs) or "raw" (LSGAN, critic scores).
        device: where to evaluate; default: where D's weights are (or the device ``setup()`` chose).
    """
    if output not in ("probability", "raw"):
        raise ValueError(f"output must be 'probability' or 'raw', not {output!r}.")
    if device is None and isinstance(D, nn.Module):
        device = next(D.parameters(), torch.empty(0, device=get_device())).device
    points, _ = grid_points(extent, resolution)
    scores = D(torch.as_tensor(points.reshape(-1, 2), dtype=torch.float32, device=get_device(device)))
    scores = torch.sigmoid(scores) if output == "probability" else scores
    return scores.reshape(resolution, resolution).double().cpu().numpy()


#: the stages of one slow-motion iteration, in order
STAGES = ("D before", "D after", "G before", "G after")


@dataclass
class Stage:
    """One stage of a slow-motion iteration (:meth:`ToyLab.stages`): what a picture of it needs, as arrays.

    Attributes:
        name: one of ``STAGES``.
        caption: one sentence for the lecture: what happens in this stage, with the numbers that show it.
        heatmap: D on the lab's grid (res, res), the same fixed grid at every stage ("D before" and "D after"
            differ only by D's update).
        real: the fixed real points (n, 2); fake: G on the fixed noise (n, 2), after G's update in "G after".
        manifold: the generator manifold (``ToyLab.manifold``).
        arrows: −∇ₓ ℓ_G at the first fakes (m, 2) in "G before", and at the same (old) fakes in "G after";
            None in D's stages (D's update does not move a single point).
        moved_from: in "G after", the fakes before G's update (n, 2): ``fake - moved_from`` is each point's move.
        D_real, D_fake: D's mean output on ``real`` and on ``fake`` (σ(logit) or raw score, as the heat map).
    """

    name: str
    caption: str
    heatmap: np.ndarray
    real: np.ndarray
    fake: np.ndarray
    manifold: np.ndarray
    D_real: float
    D_fake: float
    arrows: np.ndarray | None = None
    moved_from: np.ndarray | None = None


class ToyLab:
    """State of one toy GAN: data, G, D, optimisers, history; step D, G or both.

    Attributes:
        config: the ``ToyConfig`` (``k`` and the learning rates may change between steps).
        data: the toy distribution (``config.dataset``, or ``drawing`` when set); ``data.density`` is None
            when unknown.
        drawing: a hand-drawn distribution (``gan_lab.data.toy.Drawing``) used instead of ``config.dataset``,
            or None.
        G, D, opt_G, opt_D: networks and optimisers.
        num_steps: iterations so far.
        history: ``fit`` history, one entry per iteration (loss_D, loss_G, grad_G = mean ‖∇_x ℓ_G‖ over
            the fakes, D(x), D(G(z))) plus ``evaluate`` entries (eval_step, JS, KL and, for mixtures,
            modes and quality).
        real, z: the fixed evaluation set (n_eval, 2) and (n_eval, z_dim).
        resolution: side of the grid on which heat map, D* and the density estimates live.
    """

    def __init__(self, config: ToyConfig | None = None, device=None, n_eval: int = 1024, resolution: int = 64,
                 data=None, **changes):
        self.device, self.n_eval, self.resolution = get_device(device), n_eval, resolution
        self.config = dataclasses.replace(config or ToyConfig(), **changes)
        if data is not None and not isinstance(data, Drawing):
            raise TypeError(f"data must be a gan_lab.data.toy.Drawing (or None for config.dataset), not "
                            f"{type(data).__name__}; to use a named dataset, pass dataset={data!r} instead.")
        self.drawing = data  # a hand-drawn distribution (``gan_lab.data.toy.Drawing``) in place of config.dataset
        self.reset()

    def reset(self, **changes) -> None:
        """Fresh networks, optimisers, evaluation set and history (applying any config ``changes``).

        A drawing in use stays in use, unless ``changes`` picks a dataset.
        """
        cfg = self.config = dataclasses.replace(self.config, **changes)
        torch.manual_seed(cfg.seed)
        if "dataset" in changes:
            self.drawing = None
        self.data = make_toy(cfg.dataset) if self.drawing is None else self.drawing
        self.G = MLPGenerator(cfg.z_dim, out_shape=(2,), width=cfg.width, depth=cfg.depth,
                              out_activation="none").to(self.device)
        self.D = MLPDiscriminator(in_shape=(2,), width=cfg.width, depth=cfg.depth).to(self.device)
        make = (lambda p, lr: torch.optim.Adam(p, lr, betas=(0.5, 0.999))) if cfg.optimizer == "adam" \
            else (lambda p, lr: torch.optim.SGD(p, lr))
        self.opt_G, self.opt_D = make(self.G.parameters(), cfg.lr_G), make(self.D.parameters(), cfg.lr_D)
        self.loss_D_fn, self.loss_G_fn = adversarial_losses(cfg.loss)
        self.output = "probability" if cfg.loss in ("minimax", "nonsaturating") else "raw"
        self.real, self.z = self.sample_real(self.n_eval), self.sample_z(self.n_eval)
        self.history: dict[str, list] = {"step": []}
        self.num_steps = 0  # iterations so far (step_D, step_G and step count one each)
        self._p_data_hat = self._p_data_smooth = None  # fixed per reset, computed on first use

    @property
    def models(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def sample_z(self, n: int) -> torch.Tensor:
        """z ~ p_z, shape (n, z_dim)."""
        shape = (n, self.config.z_dim)
        z = torch.randn(shape) if self.config.noise == "gaussian" else 2 * torch.rand(shape) - 1
        return z.to(self.device)

    def sample_real(self, n: int) -> torch.Tensor:
        """x ~ p_data, shape (n, 2)."""
        return self.data.sample(n).to(self.device)

    def use_data(self, data=None) -> None:
        """Train on ``data`` from now on (a ``Drawing``, or None for ``config.dataset``), keeping the networks.

        G and D carry on from where they are, as in GAN Lab when the data is redrawn: the student watches
        them chase the new distribution. The fixed evaluation set is drawn again from ``data``.
        """
        self.drawing = data
        self.data = make_toy(self.config.dataset) if data is None else data
        self.real = self.sample_real(self.n_eval)
        self._p_data_hat = self._p_data_smooth = None

    def set_learning_rates(self, lr_D: float | None = None, lr_G: float | None = None) -> None:
        """Change learning rates in place (optimiser state such as Adam's moments is kept)."""
        for opt, lr, name in ((self.opt_D, lr_D, "lr_D"), (self.opt_G, lr_G, "lr_G")):
            if lr is not None:
                for group in opt.param_groups:
                    group["lr"] = lr
                self.config = dataclasses.replace(self.config, **{name: lr})

    # ---- one iteration ---------------------------------------------------------------------------
    def _update_D(self) -> None:
        with torch.no_grad():
            fake = self.G(self.sample_z(self.config.batch_size))  # G is fixed during D's update
        real = self.sample_real(self.config.batch_size)
        if self.config.loss == "wasserstein":  # D is a critic, kept Lipschitz by WGAN-GP's penalty (λ = 0: none)
            c_step(self.D, self.opt_D, real, fake, lambda_gp=self.config.lambda_gp or None)
        else:
            d_step(self.D, self.opt_D, real, fake, self.loss_D_fn)

    def _update_G(self) -> None:
        g_step(self.G, self.D, self.opt_G, self.sample_z(self.config.batch_size), self.loss_G_fn)

    def _measure(self) -> dict[str, torch.Tensor]:
        """Losses (L_D without the gradient penalty), D's mean outputs and mean ‖∇_x ℓ_G‖.

        Measured on the first ``batch_size`` points of the fixed evaluation set: the same points at
        every step, so the curves show how the networks change rather than sampling noise.
        """
        n = self.config.batch_size
        with torch.no_grad():
            fake = self.G(self.z[:n])
            real_out = self.D(self.real[:n])
        grad, fake_out = generator_gradients(self.D, fake, self.loss_G_fn)
        show = torch.sigmoid if self.output == "probability" else (lambda t: t)
        return {"loss_D": self.loss_D_fn(real_out, fake_out), "loss_G": self.loss_G_fn(fake_out),
                "grad_G": grad.norm(dim=1).mean(), "D(x)": show(real_out).mean(), "D(G(z))": show(fake_out).mean()}

    def _iteration(self, what: str, d_updates: int | None = None):
        d_updates = d_updates or (self.config.k if what == "both" else 1)  # k D steps per G step

        def step_fn(step: int) -> dict:
            if what in ("D", "both"):
                for _ in range(d_updates):
                    self._update_D()
            if what in ("G", "both"):
                self._update_G()
            self.num_steps = step  # exact even while the history lags (log_every > 1): evaluate() uses it
            return self._measure()
        return step_fn

    def update(self, what: str = "both", n: int = 1, *, log_every: int = 1, eval_every: int = 0,
               progress: bool = False) -> dict[str, list]:
        """Run ``n`` iterations: "D" (one D update), "G" (one G update) or "both" (k D updates, then one G).

        Args:
            log_every: iterations averaged into one history entry.
            eval_every: also call :meth:`evaluate` every this many iterations and at the end (0: never).
            progress: show a progress bar.

        Returns:
            The history.
        """
        if what not in ("D", "G", "both"):
            raise ValueError(f"what must be 'D', 'G' or 'both', not {what!r}.")
        return self._fit(self._iteration(what), n, log_every=log_every, eval_every=eval_every, progress=progress)

    def _fit(self, step_fn, n: int, *, log_every: int = 1, eval_every: int = 0, progress: bool = False):
        callbacks = [lambda step, history: self.evaluate()] if eval_every else []
        with single_thread():
            return fit(step_fn, self.num_steps + n, models=self.models, optimizers=self.optimizers,
                       checkpoint_every=0, log_every=log_every, callbacks=callbacks, callback_every=max(eval_every, 1),
                       progress=progress, desc=f"toy GAN ({self.config.loss})", history=self.history,
                       precision="fp32")  # 2-D MLPs: nothing for bf16 to speed up, and the toy lab measures D exactly

    def step_D(self) -> None:
        """One discriminator update (G untouched)."""
        self.update("D")

    def step_G(self) -> None:
        """One generator update (D untouched)."""
        self.update("G")

    def step(self) -> None:
        """One iteration of Algorithm 1: k discriminator updates, then one generator update."""
        self.update("both")

    def stages(self, num_points: int = 256, num_arrows: int = 48) -> Iterator[Stage]:
        """One iteration in slow motion: yields "D before", "D after", "G before", "G after" (``STAGES``).

        The updates are those of :meth:`step` — k D updates with G frozen, then one G update with D frozen,
        drawing the same random batches in the same order, so the networks end exactly where ``step()``
        would leave them — but each half is logged as its own iteration, as ``step_D`` / ``step_G`` are
        (two history entries, ``num_steps`` + 2). D's update happens between the first two stages, G's
        between the last two; a caller that stops after "D after" leaves G untouched.

        Args:
            num_points: real and fake points per stage (from the fixed evaluation set).
            num_arrows: fakes that carry a −∇ₓ ℓ_G arrow in G's stages.
        """
        k, n = self.config.k, num_points
        with single_thread():
            before = self._stage("D before", n)
        D_updates = f"{k} updates" if k > 1 else "1 update"
        before.caption = (f"D before its turn: mean D(x) = {before.D_real:.3g} on real points, D(G(z)) = "
                          f"{before.D_fake:.3g} on fakes. Next: {D_updates} of D, G frozen.")
        yield before
        self._fit(self._iteration("D", d_updates=k), 1)
        with single_thread():
            after = self._stage("D after", n)
        after.caption = (f"D after {D_updates} (G frozen): D(x) {before.D_real:.3g} → {after.D_real:.3g}, "
                         f"D(G(z)) {before.D_fake:.3g} → {after.D_fake:.3g}. The heat map moved, no point did.")
        yield after
        with single_thread():
            g_before = self._stage("G before", n, num_arrows)
        length = np.linalg.norm(g_before.arrows, axis=1).mean() if num_arrows else float("nan")
        g_before.caption = (f"G's turn (D frozen): each arrow is −∇ₓ ℓ_G, where the generator loss wants that fake "
                            f"to go (true mean length {length:.3g}; drawn rescaled). Next: one update of G.")
        yield g_before
        self._fit(self._iteration("G"), 1)
        with single_thread():
            g_after = self._stage("G after", n, num_arrows)
        g_after.moved_from, g_after.arrows = g_before.fake, g_before.arrows
        move = np.linalg.norm(g_after.fake - g_before.fake, axis=1).mean()
        g_after.caption = (f"G after one update (D frozen): the fakes moved (mean distance {move:.3g}) along their "
                           f"arrows, not exactly: G moves its weights, not the points. D(G(z)) {g_before.D_fake:.3g} "
                           f"→ {g_after.D_fake:.3g}; the heat map did not change.")
        yield g_after

    def _stage(self, name: str, num_points: int, num_arrows: int = 0) -> Stage:
        with torch.no_grad():
            real, fake = self.real[:num_points], self.G(self.z[:num_points])
            show = torch.sigmoid if self.output == "probability" else (lambda t: t)
            D_real, D_fake = show(self.D(real)).mean().item(), show(self.D(fake)).mean().item()
        arrows = self.fake_gradients(fake[:num_arrows]).cpu().numpy() if num_arrows else None
        return Stage(name, "", self.heatmap(), real.cpu().numpy(), fake.cpu().numpy(), self.manifold(),
                     D_real, D_fake, arrows)

    @classmethod
    def load_example(cls, name: str, **kwargs) -> ToyLab:
        """A ready-trained lab from ``EXAMPLES`` (see :func:`load_example`)."""
        return load_example(name, **kwargs)

    # ---- what the lab draws -----------------------------------------------------------------------
    @torch.no_grad()
    def fakes(self) -> torch.Tensor:
        """G(z) on the fixed evaluation noise, (n_eval, 2)."""
        return self.G(self.z)

    def fake_gradients(self, fake: torch.Tensor) -> torch.Tensor:
        """−∇_x ℓ_G at each fake (n, 2)."""
        return generator_gradients(self.D, fake, self.loss_G_fn)[0]

    def heatmap(self) -> np.ndarray:
        """D's output on the lab's grid (res, res): σ(logit) for minimax / non-saturating, raw otherwise."""
        return discriminator_heatmap(self.D, self.data.extent, self.resolution, self.output, self.device)

    def density_estimates(self, fake: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Binned KDEs (res, res) of the fixed real set (cached) and of ``fake`` on the lab's grid."""
        if self._p_data_hat is None:
            self._p_data_hat = kde_on_grid(self.real, self.data.extent, self.resolution)
        return self._p_data_hat, kde_on_grid(fake, self.data.extent, self.resolution)

    def optimal_discriminator_map(self, p_g_hat: np.ndarray) -> np.ndarray | None:
        """D* = p_data / (p_data + p_g) on the lab's grid, or None when p_data has no closed form.

        p_g is a binned KDE of the fakes (``density_estimates``); p_data is the exact density
        smoothed by the same kernel, so a perfect generator gives D* ≈ ½ everywhere. Both get a
        floor ε = 2 % of p_data's peak, D* = (p_data + ε) / (p_data + p_g + 2ε): in the tails, where
        a KDE of n_eval samples is mostly holes, and far from both densities, where any D is optimal,
        this gives ½ instead of a ratio of two unreliable small numbers.
        Least squares with 0/1 targets has the same D*; the Wasserstein critic has none.
        """
        if self.data.density is None or self.config.loss == "wasserstein":
            return None
        if self._p_data_smooth is None:
            points, _ = grid_points(self.data.extent, self.resolution)
            self._p_data_smooth = smooth_on_grid(self.data.density(points), self.data.extent)
        eps = 0.02 * self._p_data_smooth.max()
        return optimal_discriminator(self._p_data_smooth + eps, p_g_hat + eps)

    @torch.no_grad()
    def manifold(self, lines: int = 11, points: int = 40) -> np.ndarray:
        """The image under G of a grid in latent space, as polylines (num_lines, points, 2).

        2-D noise: ``lines`` lines of constant z₁ and ``lines`` of constant z₂; 1-D noise: one line.
        The grid spans ±2 for Gaussian noise (95 % of each coordinate) and ±1 for uniform noise.
        """
        r = 2.0 if self.config.noise == "gaussian" else 1.0
        t = torch.linspace(-r, r, points)
        if self.config.z_dim == 1:
            z = torch.linspace(-r, r, points * lines)[None, :, None]  # (1, P·L, 1)
        else:
            a, b = torch.meshgrid(torch.linspace(-r, r, lines), t, indexing="ij")  # (L, P)
            z = torch.cat([torch.stack([a, b], -1), torch.stack([b, a], -1)])  # (2L, P, 2)
        x = self.G(z.reshape(-1, self.config.z_dim).to(self.device))
        return x.reshape(*z.shape[:2], 2).cpu().numpy()

    def evaluate(self, fake: torch.Tensor | None = None, densities=None) -> dict[str, float]:
        """JS and KL(p_data ‖ p_g) from binned KDEs and, for mixtures, mode coverage; appended to the history.

        Args:
            fake: the generator's samples (default: G on the fixed evaluation noise).
            densities: ``density_estimates(fake)`` if already computed (a widget draws them too).
        """
        fake = self.fakes() if fake is None else fake
        out = divergences_on_grid(*(densities or self.density_estimates(fake)))
        if isinstance(self.data, GaussianMixture):
            out.update({k: v for k, v in mode_coverage(fake, self.data).items() if k != "counts"})
        for key, value in {"eval_step": self.num_steps, **out}.items():
            self.history.setdefault(key, []).append(value)
        return out


def train_toy_gan(config: ToyConfig | None = None, num_steps: int = 2000, *, device=None, checkpoint_dir=None,
                  eval_every: int = 100, log_every: int = 10, progress: bool = True, what: str = "both",
                  **changes) -> ToyLab:
    """Train a toy GAN headless for ``num_steps`` iterations and return the lab (its state and history).

    ``what`` is :meth:`ToyLab.update`'s: "both" (Algorithm 1), or "D" / "G" to train one player alone.

    With ``checkpoint_dir`` (e.g. ``gan_lab.checkpoints.cache_dir("toy_ring")``): load the checkpoint
    there if it was made with the same config, steps and intervals, else train and save one
    (load-if-exists-else-train, so a notebook's second run takes seconds).

    Example:
        >>> lab = train_toy_gan(ToyConfig(dataset="ring"), 2000, loss="wasserstein", k=5)  # doctest: +SKIP
        >>> C = lab.heatmap()  # the critic on a grid (raw scores)
    """
    if "data" in changes:  # the cache is keyed by the config alone: a drawing would load another drawing's lab
        raise ValueError("train_toy_gan caches by config and cannot train on a drawing; use ToyLab(config, "
                         "data=drawing).update('both', n) instead.")
    lab = ToyLab(config, device=device, **changes)
    meta = {"toy": dataclasses.asdict(lab.config), "num_steps": num_steps, "eval_every": eval_every,
            "log_every": log_every}
    if what != "both":  # only then: checkpoints made before ``what`` existed keep matching
        meta["what"] = what
    stored = checkpoints.stored_config(checkpoint_dir) if checkpoint_dir is not None else None
    if stored is not None and not checkpoints.config_changes(stored, meta):
        lab.history = checkpoints.restore(checkpoint_dir, lab.models, lab.optimizers).history
        lab.num_steps = lab.history["step"][-1]
        return lab
    lab.update(what, num_steps, log_every=log_every, eval_every=eval_every, progress=progress)
    if checkpoint_dir is not None:
        checkpoints.save_checkpoint(checkpoint_dir, lab.models, lab.optimizers, step=lab.num_steps,
                                    history=lab.history, config=meta)
    return lab


@dataclass(frozen=True)
class ToyExample:
    """A ready-trained state for a lecture: ``num_steps`` iterations of ``what`` from a fixed seed."""

    description: str
    config: dict
    num_steps: int
    what: str = "both"


#: ready-trained states, each a few seconds of training on a laptop CPU (then cached)
EXAMPLES = {
    "converged ring": ToyExample(
        "non-saturating loss, equal learning rates (1e-3), 2000 iterations: every one of the 8 modes is covered "
        "and most fakes sit on a mode; D is close to ½ where the data are.",
        dict(dataset="ring"), 2000),
    "mode collapse on the ring": ToyExample(
        "the same GAN, but G learns 4× faster than D (lr_G 2e-3, lr_D 5e-4), 1000 iterations: the fakes crowd "
        "around one mode (and past it), and D* marks the seven it misses. Keep stepping: G hops instead of spreading.",
        dict(dataset="ring", lr_G=2e-3, lr_D=5e-4), 1000),
    "saturated minimax generator": ToyExample(
        "minimax loss log(1 − D(G(z))), D trained alone for 300 updates: D(G(z)) ≈ 0 on every fake, where the "
        "loss is flat, so −∇ₓ ℓ_G almost vanishes (arrows are drawn rescaled: read grad_G). Step G: the fakes "
        "barely move.",
        dict(dataset="ring", loss="minimax"), 300, what="D"),
}


def load_example(name: str, *, device=None, checkpoint_dir=None, cache: bool = True,
                 progress: bool = False) -> ToyLab:
    """A ready-trained toy lab: ``EXAMPLES[name]`` trained from its fixed seed, or loaded from the cache.

    Args:
        checkpoint_dir: where to cache it (default ``checkpoints.cache_dir("toy_example_<name>")``), unless
            ``cache`` is False; the cache is checked against the example's config, as ``train_toy_gan`` does.

    Example:
        >>> lab = load_example("mode collapse on the ring")  # doctest: +SKIP
        >>> lab.evaluate()["modes"]  # doctest: +SKIP
    """
    if name not in EXAMPLES:
        raise ValueError(f"Unknown example {name!r}: choose one of {', '.join(map(repr, EXAMPLES))}.")
    example = EXAMPLES[name]
    if cache and checkpoint_dir is None:
        checkpoint_dir = checkpoints.cache_dir("toy_example_" + name.replace(" ", "_"))
    return train_toy_gan(ToyConfig(**example.config), example.num_steps, device=device,
                         checkpoint_dir=checkpoint_dir if cache else None, eval_every=100, log_every=10,
                         progress=progress, what=example.what)
