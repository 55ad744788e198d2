"""Training the domain classifier (for the feature network φ and for train-on-synthetic-test-on-real).

Plain supervised learning through the same ``fit`` loop as the GANs: one step
minimises the cross-entropy of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from ..models.classifier import DomainClassifier
from .loop import History, fit, sample_batch
from .memory_format import channels_last_on_cpu


@dataclass
class ClassifierConfig:
    """How a :class:`DomainClassifier` is trained (for φ and for train-on-synthetic-test-on-real).

    Attributes:
        width, feature_dim: network size (see :class:`DomainClassifier`).
        num_steps: Adam steps of ``batch_size`` images.
        lr, weight_decay: Adam settings.
        seed: seed for weights and batches.
    """

    width: int = 16
    feature_dim: int = 64
    num_steps: int = 800
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


def train_classifier(images: torch.Tensor, labels: torch.Tensor, num_classes: int, cfg: ClassifierConfig,
                     device=None, progress: bool = True, desc: str = "classifier") -> tuple[DomainClassifier, History]:
    """Fit C by minimising the cross-entropy E[−log softmax(C(x))_y] with Adam.

    Args:
        images: (N, C, H, W) in [-1, 1]; labels: (N,) long in 0..num_classes−1.

    Returns:
        The classifier (in eval mode, on ``device``) and its training history.
    """
    if images.dim() != 4 or labels.shape != (images.shape[0],):
        raise ValueError(f"Expected images (N, C, H, W) and labels (N,); got {tuple(images.shape)} and "
                         f"{tuple(labels.shape)}.")
    device = get_device(device)
    # seeded, but on a forked RNG: a classifier trained in the middle of a GAN's training (a two-sample test
    # between steps) must not reset the batches and codes the GAN draws next
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        return _fit_classifier(images, labels, num_classes, cfg, device, progress, desc)


def _fit_classifier(images, labels, num_classes, cfg, device, progress, desc):
    C = DomainClassifier(images.shape[1], num_classes, cfg.width, cfg.feature_dim).to(device)
    opt = torch.optim.Adam(C.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    x, y = images.to(device), labels.to(device)
    x, = channels_last_on_cpu([C], x)  # about a third less time per two-sample test on the CPU (benchmarks/README.md)

    def step_fn(step: int) -> dict:
        real, y_real = sample_batch(x, cfg.batch_size, y)
        logits = C(real)
        loss_C = F.cross_entropy(logits, y_real)
        opt.zero_grad(set_to_none=True)
        loss_C.backward()
        opt.step()
        return {"loss_C": loss_C.detach(), "acc": (logits.detach().argmax(1) == y_real).float().mean()}

    # float32 whatever setup() chose: the feature space every FID is measured in must not depend on the machine
    history = fit(step_fn, cfg.num_steps, models={"C": C}, optimizers={"C": opt}, log_every=max(1, cfg.num_steps // 50),
                  progress=progress, desc=desc, precision="fp32")
    return C.eval(), history


@torch.no_grad()
def predict_proba(C: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """softmax(C(x)) for (N, C, H, W) images, in batches; (N, K) on the CPU."""
    device = next(C.parameters()).device
    was_training = C.training
    C.eval()
    probs = [F.softmax(C(images[i:i + batch_size].to(device)), dim=1).cpu()
             for i in range(0, images.shape[0], batch_size)]
    C.train(was_training)
    return torch.cat(probs)
