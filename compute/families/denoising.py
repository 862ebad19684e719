"""What the diffusion and flow-matching families share (compute/families/diffusion.py, flow_matching.py).

A denoiser does not care whether its output is read as a noise (diffusion), a velocity or a clean
sample (flow matching), so both families train the same two time-conditioned networks with the same
plumbing: an EMA of the weights for sampling, Adam with a linear warm-up and gradient clipping, and
classifier-free guidance (Ho & Salimans 2022).
Each family file keeps its own paper, equations, loss and sampler; this file holds no model.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from compute.families.base import DataSpec

# --------------------------------------------------------------------------------------------
# Networks


def silu_mlp(d_in: int, hidden: int, depth: int, d_out: int) -> nn.Sequential:
    """Linear-SiLU x depth, then a linear read-out: (B, d_in) -> (B, d_out). SiLU is smooth, which
    matters where a network's gradient is itself the output (energy parameterisations)."""
    layers: list[nn.Module] = [nn.Linear(d_in, hidden), nn.SiLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(hidden, hidden), nn.SiLU()]
    layers.append(nn.Linear(hidden, d_out))
    return nn.Sequential(*layers)


class SinusoidalEmbedding(nn.Module):
    """t in [0, 1] (B,) -> (B, dim) sin/cos features of 1000 t (Vaswani et al. 2017; Ho et al.)."""

    def __init__(self, dim: int):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(10_000.0) * torch.arange(half) / half))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        arg = 1000.0 * t[:, None] * self.freqs[None]  # (B, half)
        return torch.cat([arg.sin(), arg.cos()], dim=1)


class TimeMLP(nn.Module):
    """(x (B, D), t (B,), labels (B,) | None) -> (B, D): an MLP on [x, fourier(x), emb(t)].

    Random Fourier features of x, [sin 2 pi x B, cos 2 pi x B] with B ~ N(0, scale^2) (Tancik et al.
    2020), remove the spectral bias that makes a plain MLP slow to carve 25 sharp basins: with them
    the 2-D benchmark converges in roughly half the steps. ``fourier=0`` gives the plain MLP.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        depth: int,
        time_dim: int,
        num_classes: int | None = None,
        fourier: int = 0,
        fourier_scale: float = 1.0,
        film: bool = False,
    ):
        super().__init__()
        self.time = SinusoidalEmbedding(time_dim)
        # index num_classes is the null label of classifier-free guidance
        self.label = nn.Embedding(num_classes + 1, time_dim) if num_classes else None
        self.register_buffer("fourier_b", 2 * math.pi * fourier_scale * torch.randn(dim, fourier))
        d_in = dim + 2 * fourier
        self.film = film
        if film:  # every layer's pre-activation scaled and shifted by the embedding (Perez et al. 2018)
            self.inp = nn.Linear(d_in, hidden)
            self.emb = nn.Sequential(nn.Linear(time_dim, 64), nn.SiLU())
            self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth - 1))
            self.mods = nn.ModuleList(nn.Linear(64, 2 * hidden) for _ in range(depth))
            self.out = nn.Linear(hidden, dim)
        else:
            self.net = silu_mlp(d_in + time_dim, hidden, depth, dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time(t)  # (B, time_dim)
        if self.label is not None and labels is not None:
            emb = emb + self.label(labels)
        proj = x @ self.fourier_b  # (B, fourier)
        h = torch.cat([x, proj.sin(), proj.cos()], dim=1)
        if not self.film:
            return self.net(torch.cat([h, emb], dim=1))
        e = self.emb(emb)  # (B, 64)
        h = self.inp(h)
        for i, mod in enumerate(self.mods):
            if i > 0:
                h = self.layers[i - 1](h)
            scale, shift = mod(e).chunk(2, dim=1)
            h = F.silu(h * (1 + scale) + shift)
        return self.out(h)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the embedding added in between (Ho et al.'s U-Net block)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class TimeUNet(nn.Module):
    """A two-level U-Net for small images: (B, C, H, W) at H, W and H/2, W/2; H, W even."""

    def __init__(self, in_ch: int, ch: int, time_dim: int, num_classes: int | None = None):
        super().__init__()
        emb_dim = 4 * time_dim
        self.time = nn.Sequential(
            SinusoidalEmbedding(time_dim),
            nn.Linear(time_dim, emb_dim),
            nn.SiLU(),
            nn.Linear(emb_dim, emb_dim),
        )
        self.label = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.inp = nn.Conv2d(in_ch, ch, 3, padding=1)
        self.down1 = ResBlock(ch, ch, emb_dim)  # H x W
        self.pool = nn.Conv2d(ch, ch, 3, stride=2, padding=1)  # -> H/2
        self.down2 = ResBlock(ch, 2 * ch, emb_dim)
        self.mid = ResBlock(2 * ch, 2 * ch, emb_dim)
        self.up2 = ResBlock(4 * ch, 2 * ch, emb_dim)  # concat skip from down2
        self.unpool = nn.Upsample(scale_factor=2, mode="nearest")
        self.up1 = ResBlock(3 * ch, ch, emb_dim)  # concat skip from down1
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, in_ch, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)  # start as the zero function: a stable first step
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time(t)
        if self.label is not None and labels is not None:
            emb = emb + self.label(labels)
        h1 = self.down1(self.inp(x), emb)  # (B, ch, H, W)
        h2 = self.down2(self.pool(h1), emb)  # (B, 2ch, H/2, W/2)
        h = self.mid(h2, emb)
        h = self.up2(torch.cat([h, h2], 1), emb)
        h = self.up1(torch.cat([self.unpool(h), h1], 1), emb)  # (B, ch, H, W)
        return self.out(h)


def build_network(
    spec: DataSpec,
    hidden: int,
    depth: int,
    time_dim: int,
    channels: int,
    fourier: int = 0,
    fourier_scale: float = 1.0,
    film: bool = False,
) -> nn.Module:
    """TimeMLP for points2d, TimeUNet for images; class-conditional when ``spec.num_classes``."""
    if spec.kind == "points2d":
        return TimeMLP(spec.dim, hidden, depth, time_dim, spec.num_classes, fourier, fourier_scale, film)
    if spec.kind == "image":
        return TimeUNet(spec.shape[0], channels, time_dim, spec.num_classes)
    raise ValueError(f"unsupported data kind {spec.kind!r}")


def network_and_ema(
    spec: DataSpec, config: Any, seed: int, film: bool = False
) -> tuple[nn.Module, nn.Module]:
    """(network, its frozen EMA copy) sized by ``config``; the same seed gives the same initial weights
    and the global RNG is left alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_network(
            spec,
            config.hidden,
            config.depth,
            config.time_dim,
            config.channels,
            config.fourier_features,
            config.fourier_scale,
            film,
        )
    return net, copy.deepcopy(net).requires_grad_(False)


# --------------------------------------------------------------------------------------------
# Training: EMA, warm-up, one optimiser step


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(pm, 1.0 - decay)


def ema_decay_at(step: int, decay: float) -> float:
    """EMA warm-up: min(decay, (1 + k) / (10 + k)) at step k, so the average forgets the random
    initial weights within a few steps instead of ~1 / (1 - decay)."""
    return min(decay, (1 + step) / (10 + step))


def warmup_lr(lr: float, step: int, warmup_steps: int) -> float:
    """Linear learning-rate warm-up over the first ``warmup_steps`` steps (step counts from 0)."""
    return lr * min(1.0, (step + 1) / max(warmup_steps, 1))


def optimiser_step(
    loss: torch.Tensor, net: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer, config: Any, step: int
) -> dict[str, float]:
    """Backward, clip to ``config.grad_clip``, one Adam step at the warmed-up lr, then the EMA update.
    Returns the losses a family's ``train_step`` reports: loss, grad_norm, lr."""
    lr = warmup_lr(config.lr, step, config.warmup_steps)
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
    opt.step()
    ema_update(ema, net, ema_decay_at(step, config.ema_decay))
    return {"loss": loss.item(), "grad_norm": float(grad_norm), "lr": lr}


# --------------------------------------------------------------------------------------------
# Classifier-free guidance


def training_labels(
    labels: torch.Tensor | None,
    n: int,
    null_label: int,
    dropout: float,
    generator: torch.Generator,
    device: torch.device,
) -> torch.Tensor:
    """Labels (n,) for a conditional network's training step: each replaced by the null label with
    probability ``dropout`` (what makes guidance possible), all null when the batch has none."""
    null = torch.full((n,), null_label, device=device, dtype=torch.long)
    if labels is None:
        return null
    drop = torch.rand(n, generator=generator).to(device) < dropout
    return torch.where(drop, null, labels.to(device).long())


def guided(
    net: nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    labels: torch.Tensor | None,
    guidance: float,
    null_label: int | None,
) -> torch.Tensor:
    """Network output uncond + w (cond - uncond) (Ho & Salimans 2022; w = 1: plain conditional).

    ``null_label`` None: an unconditional network; ``labels`` None: the null label (unconditional
    samples from a conditional network). The output is linear in the network's, so guidance
    commutes with reading it as a noise, a velocity or a clean sample."""
    if null_label is None:
        return net(x, t)
    null = torch.full((len(x),), null_label, device=x.device, dtype=torch.long)
    if labels is None:
        return net(x, t, null)
    labels = labels.to(x.device).long()
    if guidance == 1.0:
        return net(x, t, labels)
    both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))  # one batched call
    cond, uncond = both.chunk(2)
    return uncond + guidance * (cond - uncond)
