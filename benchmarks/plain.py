"""The same training steps written as a student would write them: nn.Modules, loss functions, Adam, a loop.

Each ``make_*`` builds the networks and optimisers of one gan_lab trainer
(same classes, same initialisation, same losses, learning rates and batch
size) and returns ``(step, models)``: ``step()`` is one iteration of the
algorithm and returns its losses as detached tensors (the plain loop ignores
them; ``fit`` around the same step logs them, which isolates the loop's cost).
There is no fit loop, no history, no progress bar, no NaN guard and no
freezing of D during G's update here: the bare minimum.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from gan_lab.losses import (
    discriminator_loss,
    generator_loss_nonsaturating,
    gradient_penalty,
    least_squares_d_loss,
    least_squares_g_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from gan_lab.models.classifier import DomainClassifier
from gan_lab.models.conditional import ConditionalGenerator, ProjectionDiscriminator
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from gan_lab.models.mlp import MLPDiscriminator, MLPGenerator
from gan_lab.models.patchgan import PatchGANDiscriminator
from gan_lab.models.resnet import ResnetGenerator
from gan_lab.models.segan import SegANCritic
from gan_lab.models.unet import UNet


def _adam(model, lr, betas):
    return torch.optim.Adam(model.parameters(), lr, betas=betas)


def _batch(x, bs, *others):
    idx = torch.randint(0, x.shape[0], (bs,), device=x.device)
    return (x[idx], *(o[idx] for o in others)) if others else x[idx]


def make_gan(cfg, x):
    """MLP or DCGAN with the non-saturating loss (GANConfig), x: (N, C, H, W) on the device."""
    torch.manual_seed(cfg.seed)
    C, size = x.shape[1], x.shape[-1]
    if cfg.arch == "mlp":
        G, D = MLPGenerator(cfg.z_dim, (C, size, size), cfg.width * 8), MLPDiscriminator((C, size, size), cfg.width * 8)
    else:
        G, D = DCGANGenerator(cfg.z_dim, C, size, cfg.width), DCGANDiscriminator(C, size, cfg.width)
        G.apply(init_dcgan_weights)
        D.apply(init_dcgan_weights)
    G, D = G.to(x.device).train(), D.to(x.device).train()
    opt_G, opt_D = _adam(G, cfg.lr_G, (cfg.beta1, cfg.beta2)), _adam(D, cfg.lr_D, (cfg.beta1, cfg.beta2))

    def step():
        real = _batch(x, cfg.batch_size)
        with torch.no_grad():
            fake = G(torch.randn(cfg.batch_size, cfg.z_dim, device=x.device))
        loss_D = discriminator_loss(D(real), D(fake))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        loss_G = generator_loss_nonsaturating(D(G(torch.randn(cfg.batch_size, cfg.z_dim, device=x.device))))
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

    return step, {"G": G, "D": D}


def make_classifier(cfg, x, labels, num_classes):
    """The domain classifier (ClassifierConfig): cross-entropy, Adam with weight decay."""
    torch.manual_seed(cfg.seed)
    C = DomainClassifier(x.shape[1], num_classes, cfg.width, cfg.feature_dim).to(x.device).train()
    opt = torch.optim.Adam(C.parameters(), cfg.lr, weight_decay=cfg.weight_decay)

    def step():
        real, y = _batch(x, cfg.batch_size, labels)
        loss_C = F.cross_entropy(C(real), y)
        opt.zero_grad()
        loss_C.backward()
        opt.step()
        return {"loss_C": loss_C.detach()}

    return step, {"C": C}


def make_cgan(cfg, x, labels, num_classes):
    """Class-conditional DCGAN with a projection discriminator (CGANConfig)."""
    torch.manual_seed(cfg.seed)
    C, size = x.shape[1], x.shape[-1]
    G = ConditionalGenerator(num_classes, cfg.z_dim, cfg.embed_dim, C, size, cfg.width)
    D = ProjectionDiscriminator(num_classes, C, size, cfg.width)
    G.apply(init_dcgan_weights)
    D.apply(init_dcgan_weights)
    G, D = G.to(x.device).train(), D.to(x.device).train()
    opt_G, opt_D = _adam(G, cfg.lr_G, (cfg.beta1, cfg.beta2)), _adam(D, cfg.lr_D, (cfg.beta1, cfg.beta2))

    def step():
        real, y = _batch(x, cfg.batch_size, labels)
        with torch.no_grad():
            fake = G(torch.randn(cfg.batch_size, cfg.z_dim, device=x.device), y)
        loss_D = discriminator_loss(D(real, y), D(fake, y))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        y_G = _batch(labels, cfg.batch_size)
        loss_G = generator_loss_nonsaturating(D(G(torch.randn(cfg.batch_size, cfg.z_dim, device=x.device), y_G), y_G))
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

    return step, {"G": G, "D": D}


def make_pix2pix(cfg, x_all, y_all):
    """U-Net G + PatchGAN D on paired images, non-saturating loss + λ_L1·L1 (Pix2PixConfig)."""
    torch.manual_seed(cfg.seed)
    size = x_all.shape[-1]
    G = UNet(x_all.shape[1], y_all.shape[1], cfg.width, size=size, norm=cfg.norm, dropout=cfg.dropout)
    D = PatchGANDiscriminator(x_all.shape[1] + y_all.shape[1], cfg.d_width, cfg.n_layers or (2 if size <= 32 else 3),
                              cfg.norm)
    G.apply(init_dcgan_weights)
    D.apply(init_dcgan_weights)
    G, D = G.to(x_all.device).train(), D.to(x_all.device).train()
    opt_G, opt_D = _adam(G, cfg.lr_G, (cfg.beta1, cfg.beta2)), _adam(D, cfg.lr_D, (cfg.beta1, cfg.beta2))

    def step():
        x, y = _batch(x_all, cfg.batch_size, y_all)
        with torch.no_grad():
            fake = G(x)
        loss_D = 0.5 * discriminator_loss(D(torch.cat([x, y], 1)), D(torch.cat([x, fake], 1)))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        fake = G(x)
        loss_G = generator_loss_nonsaturating(D(torch.cat([x, fake], 1))) + cfg.lambda_L1 * F.l1_loss(fake, y)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

    return step, {"G": G, "D": D}


def make_cyclegan(cfg, x_all, y_all):
    """Two ResNet generators, two PatchGANs, LSGAN + cycle + identity losses, a pool of 50, LR decay."""
    torch.manual_seed(cfg.seed)
    size, dev = x_all.shape[-1], x_all.device
    G_XY = ResnetGenerator(x_all.shape[1], y_all.shape[1], cfg.width, cfg.n_blocks, size)
    G_YX = ResnetGenerator(y_all.shape[1], x_all.shape[1], cfg.width, cfg.n_blocks, size)
    D_X = PatchGANDiscriminator(x_all.shape[1], cfg.width, 2 if size <= 32 else 3, norm="instance")
    D_Y = PatchGANDiscriminator(y_all.shape[1], cfg.width, 2 if size <= 32 else 3, norm="instance")
    models = {"G_XY": G_XY, "G_YX": G_YX, "D_X": D_X, "D_Y": D_Y}
    for m in models.values():
        m.apply(init_dcgan_weights)
        m.to(dev).train()
    betas = (cfg.beta1, cfg.beta2)
    opt_G = torch.optim.Adam(itertools.chain(G_XY.parameters(), G_YX.parameters()), cfg.lr, betas=betas)
    opt_D = torch.optim.Adam(itertools.chain(D_X.parameters(), D_Y.parameters()), cfg.lr, betas=betas)
    keep = int(cfg.decay_start * cfg.num_steps)
    decay = lambda s: max(0.0, 1.0 - max(0, s - keep) / max(1, cfg.num_steps - keep))
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, decay) for o in (opt_G, opt_D)]
    pools = {"X": [], "Y": []}

    def pool(name, fakes):  # Shrivastava et al.: until full store; then swap a random old fake with p = 1/2
        kept, out = pools[name], []
        for f in fakes.detach():
            if len(kept) < cfg.pool_size:
                kept.append(f)
                out.append(f)
            elif torch.rand(()) < 0.5:
                i = int(torch.randint(cfg.pool_size, ()))
                out.append(kept[i])
                kept[i] = f
            else:
                out.append(f)
        return torch.stack(out)

    def step():
        real_X, real_Y = _batch(x_all, cfg.batch_size), _batch(y_all, cfg.batch_size)
        fake_Y, fake_X = G_XY(real_X), G_YX(real_Y)
        loss_GAN = least_squares_g_loss(D_Y(fake_Y)) + least_squares_g_loss(D_X(fake_X))
        loss_cyc = (G_YX(fake_Y) - real_X).abs().mean() + (G_XY(fake_X) - real_Y).abs().mean()
        loss_id = (G_YX(real_X) - real_X).abs().mean() + (G_XY(real_Y) - real_Y).abs().mean()
        loss_G = loss_GAN + cfg.lambda_cycle * loss_cyc + cfg.lambda_id * loss_id
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        loss_D = (least_squares_d_loss(D_X(real_X), D_X(pool("X", fake_X)))
                  + least_squares_d_loss(D_Y(real_Y), D_Y(pool("Y", fake_Y))))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        for s in schedulers:
            s.step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

    return step, models


def make_wgan_gp(cfg, x):
    """DCGAN G, critic without batch norm, n_critic critic steps with λ·gradient penalty, Adam(β = (0, 0.9))."""
    torch.manual_seed(cfg.seed)
    C_in, size = x.shape[1], x.shape[-1]
    G = DCGANGenerator(cfg.z_dim, C_in, size, cfg.width)
    G.apply(init_dcgan_weights)
    C = DCGANDiscriminator(C_in, size, cfg.width, critic=True)
    G, C = G.to(x.device).train(), C.to(x.device).train()
    opt_G, opt_C = _adam(G, cfg.lr, (cfg.beta1, cfg.beta2)), _adam(C, cfg.lr, (cfg.beta1, cfg.beta2))

    def step():
        for _ in range(cfg.n_critic):
            real = _batch(x, cfg.batch_size)
            with torch.no_grad():
                fake = G(torch.randn(cfg.batch_size, cfg.z_dim, device=x.device))
            loss_C = wasserstein_critic_loss(C(real), C(fake)) + cfg.lambda_gp * gradient_penalty(C, real, fake)
            opt_C.zero_grad()
            loss_C.backward()
            opt_C.step()
        loss_G = wasserstein_generator_loss(C(G(torch.randn(cfg.batch_size, cfg.z_dim, device=x.device))))
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        return {"loss_C": loss_C.detach(), "loss_G": loss_G.detach()}

    return step, {"G": G, "C": C}


def make_segan(cfg, x_all, y_all):
    """U-Net segmentor S against SegAN's multi-scale critic C (clipped), plus soft Dice; rot90/flip augmentation."""
    torch.manual_seed(cfg.seed)
    size = x_all.shape[-1]
    S = UNet(x_all.shape[1], 1, width=cfg.width, size=size, norm=cfg.norm, out_activation="none").to(x_all.device)
    C = SegANCritic(x_all.shape[1], cfg.critic_width, size=size, norm=cfg.norm).to(x_all.device)
    with torch.no_grad():
        for p in C.parameters():
            p.clamp_(-cfg.clip, cfg.clip)
    opt_S, opt_C = _adam(S, cfg.lr_S, (cfg.beta1, cfg.beta2)), _adam(C, cfg.lr_C, (cfg.beta1, cfg.beta2))

    def mae(x, prob, y):  # ℓ_mae over C's features of x∘S(x) and x∘y, one pass over both halves
        features = C(torch.cat([x * prob, x * y]))
        B = x.shape[0]
        return torch.stack([(f[:B] - f[B:]).abs().mean() for f in features]).mean()

    def step():
        x, y = _batch(x_all, cfg.batch_size, y_all)
        k = int(torch.randint(4, ()))
        x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
        if torch.rand(()) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        prob = torch.sigmoid(S(x))
        loss_C = -mae(x, prob.detach(), y)
        opt_C.zero_grad()
        loss_C.backward()
        opt_C.step()
        with torch.no_grad():
            for p in C.parameters():
                p.clamp_(-cfg.clip, cfg.clip)
        inter, total = (prob * y).flatten(1).sum(1), prob.flatten(1).sum(1) + y.flatten(1).sum(1)
        loss_S = mae(x, prob, y) + (1 - ((2 * inter + 1) / (total + 1)).mean())
        opt_S.zero_grad()
        loss_S.backward()
        opt_S.step()
        return {"loss_C": loss_C.detach(), "loss_S": loss_S.detach()}

    return step, {"S": S, "C": C}
