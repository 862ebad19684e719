"""Generative adversarial network: Goodfellow et al. (2014), "Generative Adversarial Nets".

Value function (their eq. 1), discriminator D(x) = sigmoid(l(x)) with logit l:

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]

Variants (the discriminator loss is the same binary cross-entropy for the first two):
- ``minimax``: G minimises E_z[log(1 - D(G(z)))] = -E[softplus(l)], the *saturating* loss: its
  gradient wrt the logit is -sigmoid(l) -> 0 when D confidently rejects fakes (l -> -inf). The
  failure needs a strong D: with k = 1 D step per G step (the default) it trains about as well as
  non-saturating on ring8/grid25; with ``n_critic=5`` D steps it collapses (ring8, 30 s of CPU:
  3 of 8 modes vs 7 of 8 for non-saturating under the same setting; one seed).
- ``non-saturating``: G minimises -E_z[log D(G(z))] = E[softplus(-l)] (Goodfellow et al. 2014,
  section 3): same fixed points, gradient -(1 - sigmoid(l)) -> -1 where the minimax one vanishes.
- ``wgan-gp``: Gulrajani et al. (2017), "Improved Training of Wasserstein GANs", algorithm 1:
      L_critic = E[f(G(z))] - E[f(x)] + lambda E_xhat[(||grad f(xhat)||_2 - 1)^2],
      xhat = eps x + (1 - eps) G(z), eps ~ U[0, 1];    L_G = -E[f(G(z))]
  n_critic = 5 critic steps per generator step. lambda = 10 (the paper) for images; for points2d the
  default is lambda = 0.1, as in the authors' own toy code ("smaller lambda seems to help for toy
  tasks"): with lambda = 10 the critic stays close to a linear unit-slope function for thousands of
  steps and grid25 keeps 0 modes after 5000 generator steps (measured); with 0.1 it has ~20 by ~2000.
- ``r1_gamma > 0`` (any variant): Mescheder et al. (2018), "Which Training Methods for GANs do actually
  Converge?", eq. 9: R1 = gamma/2 E_x[||grad l(x)||^2] on real data, added to the D loss.

Every variant samples from a running average of G's weights (``ema``; Yazici et al. 2019), which
removes most of the oscillation around the equilibrium; ``sample(raw=True)`` shows the current G.

There is no likelihood: ``log_likelihood`` says so (``LogLikelihood.unavailable()``).

One ``train_step(batch)`` = ``n_critic`` discriminator/critic updates on that batch (fresh z each time)
and one generator update. points2d data live in standardised coordinates u = (x - c) / s inside the
networks (c, s from ``spec.bounds``); images are flattened, G ends in a sigmoid (pixels in [0, 1]).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from compute.families.base import DataKind, DataSpec, Family, LogLikelihood


@dataclass(frozen=True)
class Config:
    variant: str = "non-saturating"  # minimax | non-saturating | wgan-gp
    latent_dim: int | None = None  # None: 2 for points2d, 32 for images
    hidden: int = 128  # width of G and D
    depth: int = 3  # hidden layers of G and of D
    lr: float | None = None  # generator learning rate; None: 1e-3 for points2d, 2e-4 for images
    lr_d: float | None = None  # discriminator/critic learning rate; None: the same as lr
    betas: tuple[float, float] = (0.5, 0.9)  # Adam, as in Gulrajani et al.'s toy code
    n_critic: int | None = None  # D steps per G step; None: 5 for wgan-gp, 1 otherwise
    # wgan-gp penalty weight; None: 10 for images (the paper), 0.1 for points2d (the authors' toy code:
    # with 10 the critic stays near-linear and cannot resolve 25 modes of std 0.05 in minutes of CPU)
    gp_lambda: float | None = None
    r1_gamma: float = 0.0  # R1 penalty (Mescheder et al. 2018); 0 disables it
    ema: float = 0.995  # sample from an exponential moving average of G's weights; 0 disables it
    # points2d: G's last layer rescaled so G(z) starts with this std per coordinate (standardised units,
    # the box is [-2, 2]) instead of a dot at the origin; 0 keeps PyTorch's init
    g_out_std: float = 0.5
    batch_size: int = 256  # a hint for the trainer


def mlp(d_in: int, hidden: int, d_out: int, depth: int, act: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), act()]
    layers.append(nn.Linear(hidden if depth > 0 else d_in, d_out))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------
# Losses as functions of discriminator logits l (B,): D(x) = sigmoid(l(x)).


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-l_real)] + E[softplus(l_fake)]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, variant: str) -> torch.Tensor:
    """minimax: E[log(1 - D)] = -E[softplus(l)];  non-saturating: -E[log D] = E[softplus(-l)];
    wgan-gp: -E[f] (the logit is the critic value f)."""
    if variant == "minimax":
        return -F.softplus(fake_logits).mean()
    if variant == "non-saturating":
        return F.softplus(-fake_logits).mean()
    if variant == "wgan-gp":
        return -fake_logits.mean()
    raise ValueError(f"unknown gan variant {variant!r}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor,
) -> torch.Tensor:
    """E_xhat[(||grad_x f(xhat)||_2 - 1)^2] at xhat = eps real + (1 - eps) fake (Gulrajani et al., alg. 1).

    real, fake (B, D); eps (B, 1) uniform in [0, 1]. Differentiable wrt the critic's parameters.
    """
    xhat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(xhat).sum(), xhat, create_graph=True)  # (B, D)
    return (grad.norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """E_x[||grad_x l(x)||^2] on real data (Mescheder et al. 2018, eq. 9 without the gamma/2)."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.pow(2).sum(dim=1).mean()


class GAN(Family):
    name: ClassVar[str] = "gan"
    family: ClassVar[str] = "gan"
    variants: ClassVar[tuple[str, ...]] = ("minimax", "non-saturating", "wgan-gp")
    data_kinds: ClassVar[tuple[DataKind, ...]] = ("points2d", "image")
    Config: ClassVar[type] = Config

    def __init__(self, config: Config, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(config, spec, seed, device)
        if spec.kind not in self.data_kinds:
            raise ValueError(f"gan models {self.data_kinds}, not {spec.kind}")
        if config.variant not in self.variants:
            raise ValueError(f"unknown gan variant {config.variant!r}; valid: {self.variants}")
        points = spec.kind == "points2d"
        self.latent_dim = config.latent_dim or (2 if points else 32)
        self.n_critic = config.n_critic or (5 if config.variant == "wgan-gp" else 1)
        self.gp_lambda = config.gp_lambda if config.gp_lambda is not None else (0.1 if points else 10.0)
        lr = config.lr or (1e-3 if points else 2e-4)
        if points and spec.bounds is not None:
            lo, hi = spec.bounds
            self.shift, self.scale = (lo + hi) / 2, (hi - lo) / 4  # the box maps to [-2, 2]
        else:
            self.shift, self.scale = 0.0, 1.0
        with torch.random.fork_rng(devices=[]):  # same seed, same init; global RNG untouched
            torch.manual_seed(seed)
            d = spec.dim
            # ReLU G: piecewise linear, it can fold the latent plane onto separated modes.
            self.generator_net = mlp(self.latent_dim, config.hidden, d, config.depth, nn.ReLU)
            if points and config.g_out_std > 0:
                self._init_output_scale(config.g_out_std)
            # LeakyReLU D: avoids dead units, whose zero input-gradients would starve G.
            self.discriminator = mlp(d, config.hidden, 1, config.depth, lambda: nn.LeakyReLU(0.2))
            # Weight averaging (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN
            # Training"): G oscillates around the equilibrium -- WGAN-GP is not locally convergent
            # (Mescheder et al. 2018) -- and the running average sits near its centre.
            self.generator_ema = copy.deepcopy(self.generator_net).requires_grad_(False)
        self.to(self.device)
        self.opt_g = torch.optim.Adam(self.generator_net.parameters(), lr=lr, betas=config.betas)
        lr_d = config.lr_d or lr
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr_d, betas=config.betas)

    @torch.no_grad()
    def _init_output_scale(self, target_std: float) -> None:
        """Rescale G's last layer so G(z) starts spread over the box (std ~ target_std per coordinate in
        standardised units) instead of a dot at the origin: saves the first few hundred steps of growth."""
        last = self.generator_net[-1]
        std = self.generator_net(torch.randn(4096, self.latent_dim)).std(0).mean()
        last.weight.mul_(target_std / std.clamp_min(1e-8))

    # ------------------------------------------------------------------ networks in flat space
    def critic(self, u: torch.Tensor) -> torch.Tensor:
        """Discriminator logit / critic value for flat standardised inputs (B, D) -> (B,)."""
        return self.discriminator(u).squeeze(-1)

    def generate(self, z: torch.Tensor, averaged: bool = False) -> torch.Tensor:
        """z (B, L) -> flat standardised samples (B, D), from G or (averaged=True) its weight average."""
        out = (self.generator_ema if averaged and self.config.ema > 0 else self.generator_net)(z)
        return torch.sigmoid(out) if self.spec.kind == "image" else out

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32).reshape(len(x), -1)
        return (x - self.shift) / self.scale

    def _randn(self, *shape: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # CPU generator, then the device: the same seed gives the same draws on any device.
        return torch.randn(shape, generator=generator or self.generator).to(self.device)

    # ------------------------------------------------------------------ training
    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        self.train()
        c = self.config
        real = self._flat(batch)  # (B, D)
        b = len(real)
        stats: dict[str, float] = {}
        for _ in range(self.n_critic):
            with torch.no_grad():
                fake = self.generate(self._randn(b, self.latent_dim))
            real_l, fake_l = self.critic(real), self.critic(fake)
            if c.variant == "wgan-gp":
                eps = torch.rand(b, 1, generator=self.generator).to(self.device)
                gp = gradient_penalty(self.critic, real, fake, eps)
                d_loss = fake_l.mean() - real_l.mean() + self.gp_lambda * gp
                stats["gp"] = gp.item()
                stats["wasserstein"] = (real_l.mean() - fake_l.mean()).item()  # the critic's W1 estimate
            else:
                d_loss = discriminator_loss(real_l, fake_l)
                stats["d_real"] = torch.sigmoid(real_l).mean().item()  # mean D(x)
                stats["d_fake"] = torch.sigmoid(fake_l).mean().item()  # mean D(G(z))
            if c.r1_gamma > 0:
                r1 = r1_penalty(self.critic, real)
                d_loss = d_loss + 0.5 * c.r1_gamma * r1
                stats["r1"] = r1.item()
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()

        fake_l = self.critic(self.generate(self._randn(b, self.latent_dim)))
        g_loss = generator_loss(fake_l, c.variant)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()  # D's grads from this pass are cleared by its next zero_grad
        self._update_ema()
        # "loss" is the discriminator/critic loss: the one with a meaningful scale (W1 for wgan-gp).
        return {"loss": d_loss.item(), "d_loss": d_loss.item(), "g_loss": g_loss.item(), **stats}

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.config.ema > 0:
            pairs = zip(self.generator_ema.parameters(), self.generator_net.parameters(), strict=True)
            for p_ema, p in pairs:
                p_ema.lerp_(p, 1.0 - self.config.ema)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        """x = G(z), z ~ N(0, I). Knobs: ``seed``; ``truncation`` (float > 0: z clipped to +-truncation,
        trading diversity for quality); ``raw=True`` samples the current G instead of its weight average
        (``Config.ema``). ``labels`` are ignored (unconditional model)."""
        self.eval()
        seed = knobs.get("seed")
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else self.generator
        z = self._randn(n, self.latent_dim, generator=g)
        if knobs.get("truncation"):
            t = float(knobs["truncation"])
            z = z.clamp(-t, t)
        u = self.generate(z, averaged=not knobs.get("raw", False))
        return (u * self.scale + self.shift).reshape(n, *self.spec.shape).cpu()

    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        return LogLikelihood.unavailable()  # implicit model: no density to evaluate

    @property
    def nfe(self) -> int:
        return 1

    def parameter_count(self) -> int:
        """Trained parameters of G and D (the weight-averaged copy of G is not counted twice)."""
        return sum(p.numel() for m in (self.generator_net, self.discriminator) for p in m.parameters())
