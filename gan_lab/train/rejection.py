"""Discriminator rejection sampling (DRS; Azadi et al. 2019): keep each of G's samples as far as D believes it.

For a fixed G, the optimal D of the GAN game is D*(x) = p_data(x) / (p_data(x) + p_g(x)), so its logit is
D̃*(x) = log p_data(x) / p_g(x). Rejection sampling from p_g, keeping x with probability p_data(x) / (M p_g(x))
= exp(D̃*(x) − D̃*_M) where D̃*_M bounds the logit, would then draw from p_data itself. A trained D is neither optimal
nor calibrated, and exact acceptance would keep almost nothing, so DRS's practical form accepts x with probability
σ(F(x)),

    F(x) = D̃(x) − D̃_M − log(1 − exp(D̃(x) − D̃_M − ε)) − γ,

which is exp(D̃(x) − D̃_M − ε) for γ = 0; a γ below 0 keeps more, a γ above 0 fewer. D̃_M bounds the logit: DRS
estimates it as the largest logit of a burn-in and raises it whenever a larger one appears; here it is the largest
logit of the pools scored so far (each pool is scored whole before any of it is accepted). ε = 1e-6 keeps the
logarithm finite, and γ is the 95th percentile of F over each pool: the setting of the DRS baseline in the official
code of Metropolis-Hastings GAN (Turner et al. 2019); the DRS paper treats γ as a knob between acceptance and
fidelity.

D scores the fakes in training mode, whole batches of fakes at a time, as it scored them while it was trained
(its batch norm then uses the fakes' own statistics); a copy does the scoring, so the run's D is left as it was.
One more gap between the argument and its use: D was trained against the trained G, while a run samples the
average of G's weights (``GANRun.generator``), whose distribution is close to G's but not the same.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .common import in_batches

EPSILON = 1e-6
PERCENTILE = 95.0


def acceptance(logits: torch.Tensor, logit_max: float, percentile: float | None = PERCENTILE) -> torch.Tensor:
    """σ(F(x)) for each of D's logits ``logits`` (a pool of fakes), F as in the module's docstring, γ its
    ``percentile``-th percentile over the pool; ``percentile=None``: γ = 0, exact rejection sampling
    (exp(D̃(x) − D̃_M − ε), right only for the optimal D)."""
    delta = logits.double() - logit_max
    F = delta - torch.log1p(-torch.exp(delta - EPSILON))
    gamma = 0.0 if percentile is None else torch.quantile(F, percentile / 100)
    return torch.sigmoid(F - gamma).float()


@torch.no_grad()
def rejection_sample(G: nn.Module, D: nn.Module, z_dim: int, n: int, seed: int = 0, pool: int = 10,
                     percentile: float | None = PERCENTILE, batch_size: int = 32,
                     max_pools: int = 20) -> tuple[torch.Tensor, float]:
    """``n`` of G's samples kept by DRS, and the fraction of proposals kept.

    Args:
        G, D: the generator to sample (e.g. ``GANRun.generator``) and the discriminator trained with it.
        z_dim: G's latent size.
        n: samples to return, (n, C, H, W) on the CPU.
        seed: sets the codes z and the draws that accept or reject (one seed, one result).
        pool: proposals per pool, as a multiple of ``n`` (rounded up to whole batches of ``batch_size``); pools
            are drawn until ``n`` are kept.
        percentile: γ's percentile of F over a pool (higher keeps fewer; ``PERCENTILE`` by default); None: γ = 0,
            exact rejection sampling, which keeps few samples and is right only for the optimal D.
        batch_size: fakes per batch D scores (its training batch: its batch norm sees batches of that size).
        max_pools: pools to draw before giving up.

    Raises:
        ValueError: bad arguments, or D kept fewer than ``n`` samples of ``max_pools`` pools.

    Example:
        >>> from gan_lab.models import DCGANDiscriminator, DCGANGenerator
        >>> x, kept = rejection_sample(DCGANGenerator(z_dim=8, width=8), DCGANDiscriminator(width=8), 8, n=4)
        >>> x.shape, 0 < kept <= 1
        (torch.Size([4, 1, 28, 28]), True)
    """
    if n < 1 or pool < 1 or max_pools < 1 or batch_size < 2:
        raise ValueError(f"rejection_sample needs n, pool, max_pools ≥ 1 and batch_size ≥ 2 (batch norm needs two "
                         f"samples); got n={n}, pool={pool}, max_pools={max_pools}, batch_size={batch_size}.")
    if percentile is not None and not 0 < percentile < 100:
        raise ValueError(f"percentile must lie in (0, 100) (γ is that percentile of F), not {percentile!r}.")
    device = next(G.parameters()).device
    scorer = copy.deepcopy(D).train()  # batch statistics of the fakes, as in training; the run's D keeps its own
    d_device = next(scorer.parameters()).device
    generator = torch.Generator().manual_seed(seed)  # codes and acceptance draws, pool after pool
    size = -(-n * pool // batch_size) * batch_size  # whole batches, so D's batch norm always sees batch_size fakes
    kept, accepted, proposed, logit_max = [], 0, 0, -float("inf")
    for _ in range(max_pools):
        fake = in_batches(G, torch.randn(size, z_dim, generator=generator).to(device))  # (size, C, H, W)
        logits = torch.cat([scorer(fake[j:j + batch_size].to(d_device)).cpu()
                            for j in range(0, len(fake), batch_size)])
        logit_max = max(logit_max, logits.max().item())  # the burn-in's D̃_M, raised by larger logits
        keep = torch.rand(len(logits), generator=generator) < acceptance(logits, logit_max, percentile)
        kept.append(fake[keep])
        accepted, proposed = accepted + len(kept[-1]), proposed + len(logits)
        if accepted >= n:
            return torch.cat(kept)[:n], accepted / proposed
    raise ValueError(f"D kept {accepted} of {proposed} proposals, fewer than the {n} asked for; "
                     f"lower percentile (now {percentile}) or raise max_pools.")
