"""RealNVP: Dinh, Sohl-Dickstein & Bengio (2017), "Density estimation using Real NVP".

A bijection f from data to a standard normal latent, u = f(x), gives the exact density by the
change of variables (their eq. 3)

    log p(x) = log N(f(x); 0, I) + log |det df/dx|.

f is a stack of affine coupling layers (eq. 9): with a binary mask b (what stays put),

    y = b * x + (1 - b) * (x * exp(s(b * x)) + t(b * x)),     log |det dy/dx| = sum((1 - b) * s(b * x))

so the Jacobian is triangular and the inverse is as cheap as the forward pass:
x = b * y + (1 - b) * (y - t(b * y)) * exp(-s(b * y)). Masks alternate between layers (2-D: the two
coordinates; images: a checkerboard and its complement, eq. 8) so every dimension gets transformed.
The log-scale is bounded, s = scale * tanh(raw) with a learned per-dimension ``scale`` (as in the
authors' code), which keeps exp(s) from overflowing early in training.

Variants: ``affine`` (RealNVP) and ``additive`` (s = 0: NICE, Dinh, Krueger & Bengio 2015, whose
volume change comes only from a final learned diagonal scaling, used by both variants here).

Data conventions.
- points2d: z = (x - c) / s_b with c, s_b from ``spec.bounds`` (the box -> [-2, 2]); the density is
  reported in x (log p(x) = log p(z) - D log s_b). Kind "exact".
- images (levels k in 0..L-1, x = k / (L - 1), L = 17 for the 8x8 digits): uniform dequantisation
  y = (k + u) / L, u ~ U[0, 1)^D, then the logit transform w = logit(a + (1 - 2a) y), a = 0.05
  (RealNVP section 4.1), whose log-det is part of log p(y). Since P(k) = L^-D E_u[p_Y((k + u) / L)],
  Jensen gives the discrete-data bound  log P(k) >= E_u[log p_Y(y)] - D log L,  estimated with one u
  per example (fixed seed), so images report kind "bound" and -log P / (D ln 2) bounds bits/dim.
  Samples are mapped back to the levels, k = floor(L y).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from compute.families.base import DataKind, DataSpec, Family, LogLikelihood

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Config:
    variant: str = "affine"  # "affine" (RealNVP) | "additive" (NICE)
    couplings: int = 8  # coupling layers (masks alternate)
    hidden: int = 128  # points2d: width of the s/t MLP
    depth: int = 2  # points2d: hidden layers of the s/t MLP
    channels: int = 32  # images: width of the s/t conv net
    lr: float = 1e-3
    grad_clip: float = 10.0
    batch_size: int = 256  # a hint for the trainer; train_step takes whatever batch it is given
    logit_alpha: float = 0.05  # images: y -> logit(a + (1 - 2a) y)
    temperature: float = 1.0  # sampling: u ~ N(0, temperature^2 I)


class MLPConditioner(nn.Module):
    """(B, D) masked input -> (s, t), each (B, D)."""

    def __init__(self, dim: int, hidden: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, 2 * dim))
        nn.init.zeros_(layers[-1].weight)  # every coupling starts as the identity
        nn.init.zeros_(layers[-1].bias)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(x).chunk(2, dim=1)
        return s, t


class ConvConditioner(nn.Module):
    """(B, C, H, W) masked input (plus the mask as a channel) -> (s, t), each (B, C, H, W)."""

    def __init__(self, in_ch: int, ch: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch + 1, ch, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(ch, ch, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(ch, ch, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(ch, 2 * in_ch, 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.cat([x, mask.expand(len(x), 1, *x.shape[2:])], dim=1)
        s, t = self.net(h).chunk(2, dim=1)
        return s, t


class AffineCoupling(nn.Module):
    """One coupling layer with a fixed mask b (1 = kept). ``additive`` drops the scale (NICE)."""

    def __init__(self, mask: torch.Tensor, conditioner: nn.Module, additive: bool):
        super().__init__()
        self.register_buffer("mask", mask)
        self.cond = conditioner
        self.additive = additive
        self.scale = nn.Parameter(torch.ones_like(mask))  # bound of |s| per dimension

    def _st(self, x_kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x_kept.dim() == 4:
            s, t = self.cond(x_kept, self.mask[None, :1])
        else:
            s, t = self.cond(x_kept)
        s = torch.zeros_like(s) if self.additive else self.scale * torch.tanh(s)
        free = 1 - self.mask
        return s * free, t * free  # only the free dimensions move

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x -> (y, log|det dy/dx| (B,))."""
        s, t = self._st(x * self.mask)
        y = x * torch.exp(s) + t  # s = t = 0 on the kept dims
        return y, s.reshape(len(x), -1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        s, t = self._st(y * self.mask)  # y * mask = x * mask
        return (y - t) * torch.exp(-s)


class RealNVP(Family):
    name: ClassVar[str] = "realnvp"
    family: ClassVar[str] = "flow"
    variants: ClassVar[tuple[str, ...]] = ("affine", "additive")
    data_kinds: ClassVar[tuple[DataKind, ...]] = ("points2d", "image")
    Config: ClassVar[type] = Config

    def __init__(self, config: Config, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(config, spec, seed, device)
        if spec.kind not in self.data_kinds:
            raise ValueError(f"realnvp models {self.data_kinds}, not {spec.kind}")
        if config.variant not in self.variants:
            raise ValueError(f"unknown realnvp variant {config.variant!r}; valid: {self.variants}")
        if spec.kind == "points2d" and spec.bounds is not None:
            lo, hi = spec.bounds
            self.shift, self.scale = (lo + hi) / 2, (hi - lo) / 4
        else:
            self.shift, self.scale = 0.0, 1.0
        self.levels = spec.levels or 256
        with torch.random.fork_rng(devices=[]):  # same seed, same init; global RNG untouched
            torch.manual_seed(seed)
            self.layers = nn.ModuleList(self._coupling(i) for i in range(config.couplings))
        self.log_diag = nn.Parameter(torch.zeros(spec.shape))  # final diagonal scaling (NICE)
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))
        self.to(self.device)
        self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)

    def _coupling(self, i: int) -> AffineCoupling:
        c, spec = self.config, self.spec
        additive = c.variant == "additive"
        if spec.kind == "points2d":
            mask = (torch.arange(spec.dim) % 2 == i % 2).float()  # (D,): alternate kept coordinates
            return AffineCoupling(mask, MLPConditioner(spec.dim, c.hidden, c.depth), additive)
        ch, h, w = spec.shape
        checker = ((torch.arange(h)[:, None] + torch.arange(w)[None, :]) % 2 == i % 2).float()  # (H, W)
        return AffineCoupling(checker.expand(ch, h, w).clone(), ConvConditioner(ch, c.channels), additive)

    # ------------------------------------------------------------------ the bijection
    def flow(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Model coordinates z (B, *shape) -> latent u and log|det du/dz| (B,)."""
        log_det = torch.zeros(len(z), device=z.device)
        for layer in self.layers:
            z, ld = layer(z)
            log_det = log_det + ld
        u = z * torch.exp(self.log_diag)
        return u, log_det + self.log_diag.sum()

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        z = u * torch.exp(-self.log_diag)
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    # ------------------------------------------------------------------ data <-> model coordinates
    def _preprocess(
        self, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Data -> (z, log|dz/dx| (B,)); for images this includes dequantisation and the bin volume,
        so that log N(f(z)) + log|det| + this term is log p(x) (points2d) or the bound on log P(k)."""
        x = x.to(self.device, torch.float32)
        if self.spec.kind != "image":
            z = (x - self.shift) / self.scale
            return z, torch.full((len(x),), -self.spec.dim * math.log(self.scale), device=self.device)
        a, L = self.config.logit_alpha, self.levels
        k = torch.round(x.clamp(0, 1) * (L - 1))
        u = torch.rand(tuple(x.shape), generator=generator or self.generator).to(self.device)
        y = (k + u) / L  # in [0, 1): uniform dequantisation
        p = a + (1 - 2 * a) * y
        z = torch.log(p) - torch.log1p(-p)  # logit
        log_det = (math.log(1 - 2 * a) - torch.log(p) - torch.log1p(-p)).reshape(len(x), -1).sum(1)
        return z, log_det - self.spec.dim * math.log(L)  # - D log L: from density on y to mass of bin k

    def _postprocess(self, z: torch.Tensor) -> torch.Tensor:
        if self.spec.kind != "image":
            return (z * self.scale + self.shift).cpu()
        a, L = self.config.logit_alpha, self.levels
        y = ((torch.sigmoid(z) - a) / (1 - 2 * a)).clamp(0, 1 - 1e-6)
        return (torch.floor(y * L) / (L - 1)).cpu()  # back to the levels k / (L - 1)

    def _log_prob(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z, ld_pre = self._preprocess(x, generator)
        u, ld_flow = self.flow(z)
        log_base = (-0.5 * u**2 - 0.5 * LOG_2PI).reshape(len(u), -1).sum(1)
        return log_base + ld_flow + ld_pre

    # ------------------------------------------------------------------ Family interface
    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """Maximum likelihood: minimise -log p(x) (nats/example). Labels are ignored (unconditional)."""
        self.train()
        nll = -self._log_prob(batch).mean()
        self.opt.zero_grad(set_to_none=True)
        nll.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.parameters(), self.config.grad_clip)
        self.opt.step()
        self.num_steps += 1
        out = {"loss": nll.item(), "grad_norm": float(grad_norm)}
        if self.spec.kind == "image":
            out["bits_per_dim"] = nll.item() / (self.spec.dim * math.log(2))
        return out

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        """n samples (n, *spec.shape) on CPU. Knobs: ``temperature``, ``seed``. Labels are ignored."""
        self.eval()
        gen = (
            torch.Generator().manual_seed(int(knobs["seed"]))
            if knobs.get("seed") is not None
            else self.generator
        )
        temp = float(knobs.get("temperature", self.config.temperature))
        u = temp * torch.randn((n, *self.spec.shape), generator=gen).to(self.device)
        return self._postprocess(self.inverse(u))

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        """Exact log p(x) for points2d; for images the dequantisation bound on log P(levels) at one
        uniform noise draw per image, a Monte-Carlo estimate of that bound (kind "mc-bound")."""
        self.eval()
        gen = torch.Generator().manual_seed(self.seed + 1)
        values = torch.cat([self._log_prob(xb, gen) for xb in x.split(4096)]).cpu()
        return LogLikelihood(values=values, kind="mc-bound" if self.spec.kind == "image" else "exact")

    @property
    def nfe(self) -> int:
        return 1  # one inverse pass
