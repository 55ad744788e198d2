"""Checks for the WGAN notebook's exercises (05): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> def my_w1(a, b):
    ...     return np.abs(np.sort(a) - np.sort(b)).mean()
    >>> check_w1_1d(my_w1)  # doctest: +SKIP
    ✓ W1 of 1-D samples: correct.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import wasserstein_distance
from torch import nn

from ..losses import wasserstein_critic_loss
from .core import Feedback, check_function, check_value


def check_w1_1d(fn) -> Feedback:
    """``fn(a, b)`` for two 1-D numpy arrays of n samples each must return W1 between their empirical laws."""
    rng = np.random.default_rng(0)
    pairs = [(rng.normal(0, 1, 200), rng.normal(3, 1, 200)),  # a shift: W1 ≈ 3
             (rng.normal(0, 1, 200), rng.normal(0, 3, 200)),  # same mean, other spread
             (rng.uniform(0, 1, 50), rng.exponential(1, 50))]
    cases = [((a, b), wasserstein_distance(a, b)) for a, b in pairs]
    return check_function("W1 of 1-D samples", fn, cases,
                          hint="in 1-D the optimal transport plan matches the samples in sorted order: "
                               "W1 = mean |sort(a) − sort(b)|.")


def check_critic_loss(fn) -> Feedback:
    """``fn(real_scores, fake_scores)`` must return the loss the critic MINIMISES: E[C(G(z))] − E[C(x)]."""
    gen = torch.Generator().manual_seed(0)
    cases = []
    for n in (4, 16):
        real, fake = torch.randn(n, generator=gen) + 1, torch.randn(n, generator=gen)
        cases.append(((real, fake), wasserstein_critic_loss(real, fake).item()))
    return check_function("critic loss", fn, cases,
                          hint="the critic wants HIGH scores on real images and LOW scores on fakes; an "
                               "optimiser minimises, so return mean(fake_scores) − mean(real_scores). No log, "
                               "no sigmoid.")


def check_jsd_disjoint(answer) -> Feedback:
    """JS(p ‖ q) in nats for two distributions with disjoint supports (the value the 1-D slider showed)."""
    return check_value("JSD of disjoint supports", answer, math.log(2), rtol=1e-3,
                       hint="where p > 0, q = 0, so M = p/2 there: KL(p ‖ M) = ∫ p log 2 = log 2; same for q. "
                            "JSD = ½ log 2 + ½ log 2.")


class _Linear(nn.Module):
    """C(x) = ⟨w, x⟩: ∇_x C = w at every x."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w.flatten()


class _HalfSquare(nn.Module):
    """C(x) = ½‖x‖²: ∇_x C = x, so the penalty depends on where x̂ lies; records each x̂ it sees."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * x.flatten(1).pow(2).sum(1)


def check_gradient_penalty(fn) -> Feedback:
    """``fn(critic, real, fake)`` must return E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²], with one ε per sample.

    Four probes: a unit-norm linear critic (penalty 0), a linear critic of norm 2
    (penalty 1), a critic whose samples have gradients of different norms (the
    norm must be per sample, over all of C, H, W), and interpolates of ones and
    zeros (x̂ = ε, which must be constant inside each sample).
    """
    name, notes, passed = "gradient penalty", [], True
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(6, 1, 4, 4, generator=gen), torch.randn(6, 1, 4, 4, generator=gen)
    w = torch.randn(1, 4, 4, generator=gen)
    scales = torch.tensor([0.1, 0.2, 0.5, 1.0]).view(4, 1, 1, 1)
    x = scales * torch.ones(4, 2, 4, 4)
    probes = [("unit-norm linear critic", lambda: fn(_Linear(w / w.norm()), real, fake), 0.0),
              ("linear critic with ‖w‖ = 2", lambda: fn(_Linear(2 * w / w.norm()), real, fake), 1.0),
              ("per-sample norms over C, H, W", lambda: fn(_HalfSquare(), x, x.clone()),
               ((scales.flatten() * math.sqrt(32) - 1) ** 2).mean().item())]
    hint = ("ε = torch.rand(B, 1, 1, 1); x̂ = ε·real + (1 − ε)·fake with requires_grad; grad = "
            "torch.autograd.grad(C(x̂).sum(), x̂, create_graph=True)[0]; norm = grad.flatten(1).norm(dim=1); "
            "return ((norm − 1)²).mean().")
    for label, call, expected in probes:
        try:
            got = float(torch.as_tensor(call()).detach())
        except NotImplementedError:
            return Feedback(name, False, ["not implemented yet: complete the function above."], hint).show()
        except Exception as err:  # the answer raised: say on which probe
            notes.append(f"{label}: raised {type(err).__name__}: {err}")
            passed = False
            continue
        ok = math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6)
        passed &= ok
        notes.append(f"{label}: {got:.4g}" + (" ✓" if ok else f", expected {expected:.4g}"))
    passed &= _check_epsilon(fn, notes)
    return Feedback(name, passed, notes, hint).show()


def _check_epsilon(fn, notes: list[str]) -> bool:
    critic = _HalfSquare()
    try:
        fn(critic, torch.ones(32, 1, 4, 4), torch.zeros(32, 1, 4, 4))
    except Exception as err:  # reported once by the probes already when it is the same error
        notes.append(f"one ε per sample: raised {type(err).__name__}: {err}")
        return False
    if not critic.seen:
        notes.append("one ε per sample: the critic was never called on interpolates.")
        return False
    eps = critic.seen[-1].flatten(1)  # with real = 1 and fake = 0, x̂ = ε
    if not torch.allclose(eps, eps[:, :1].expand_as(eps)):
        notes.append("one ε per sample: ε differs between pixels of one image (draw it with shape (B, 1, 1, 1)).")
        return False
    if eps[:, 0].std() < 0.1:
        notes.append("one ε per sample: all samples got the same ε (draw B of them, one per sample).")
        return False
    notes.append("one ε per sample ✓")
    return True


def check_clip_weights(fn) -> Feedback:
    """``fn(C, c)`` must clamp every parameter of C to [−c, c] in place and leave the others unchanged."""
    torch.manual_seed(0)
    C = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    before = [p.detach().clone() for p in C.parameters()]
    c = 0.3
    try:
        fn(C, c)
    except NotImplementedError:
        return Feedback("weight clipping", False, ["not implemented yet."], "").show()
    except Exception as err:  # the answer raised
        return Feedback("weight clipping", False, [f"raised {type(err).__name__}: {err}"],
                        "use torch.no_grad() and p.clamp_(-c, c) for p in C.parameters().").show()
    ok = all(torch.equal(p.detach(), q.clamp(-c, c)) for p, q in zip(C.parameters(), before))
    note = "every weight in [−c, c], the rest untouched ✓" if ok else \
        "some weight is outside [−c, c], or a weight inside it changed"
    return Feedback("weight clipping", ok, [note],
                    "in place, under torch.no_grad(): p.clamp_(-c, c) for every p in C.parameters() "
                    "(biases too, as in Arjovsky et al.).").show()
