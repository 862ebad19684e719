"""Energy-based model: p_theta(x) = exp(-E_theta(x)) / Z_theta, E an MLP with smooth activations.

Training, by variant:
- ``dsm``: denoising score matching (Vincent 2011, eq. 7; the model score is -grad_x E). With noise
  x~ = x + sigma eps the score of the Gaussian corruption is -eps / sigma, and (lambda(sigma) = sigma^2)

      L_DSM = 1/2 E_{x, eps} || sigma * s_theta(x~, sigma) + eps ||^2,    s_theta = -grad_x E_theta

  With ``dsm_levels > 1`` the energy is noise-conditional, E(x, sigma), trained at sigmas geometric from
  ``dsm_sigma_max`` to ``dsm_sigma_min`` (Song & Ermon 2019, NCSN, eq. 5-6) and sampled with annealed
  Langevin (their algorithm 1). The density is the one at sigma_min: the data smoothed by N(0, sigma_min^2).
- ``cd-short-run``: contrastive divergence, gradient of the negative log-likelihood
      grad L = E_data[grad E(x)] - E_model[grad E(x-)],
  with x- from K steps of Langevin started at uniform noise every time (non-persistent, short-run;
  Nijkamp et al. 2019, "Learning Non-Convergent Non-Persistent Short-Run MCMC ...").
- ``cd-persistent``: the same with chains continued from a replay buffer, each reinitialised to noise
  with probability ``reinit_prob`` (Du & Mordatch 2019, "Implicit Generation and Generalization in
  Energy-Based Models", sec. 3.1).
Both CD variants add alpha * (E(x+)^2 + E(x-)^2) (Du & Mordatch 2019, sec. 3.3; ``energy_l2``); alpha = 0
lets the energies drift without bound (the "energy explosion" failure mode). A NaN loss is returned, not
raised.

Langevin dynamics (unadjusted; Welling & Teh 2011; Du & Mordatch 2019 eq. 2 up to the noise convention):

    x_{t+1} = x_t - eta * grad E(x_t) + noise_scale * sqrt(2 eta) * xi,   xi ~ N(0, I)

noise_scale = 1 targets exp(-E) (with O(eta) bias); < 1 is the common "cold" short-run choice. Chains
are clamped to the data box (the square ``spec.bounds`` for points2d, [0, 1] for images).

Likelihood. points2d: log Z by quadrature (midpoint rule) on a ``grid_size``^2 grid over ``spec.bounds``,
log Z = logsumexp(-E(grid)) + log(cell area); log p(x) = -E(x) - log Z is then normalised on that box
(kind "estimate", a numerical one). images: no tractable Z (would need AIS), so "unavailable".

points2d data live in standardised coordinates u = (x - c) / s inside the network, so step sizes and
noise levels mean the same thing for every 2-D dataset (the box maps to [-2, 2]^2); the public
``energy(x)`` / ``log_partition()`` absorb the Jacobian: log p(x) = -energy(x) - log_partition().
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from compute.families.base import DataKind, DataSpec, Family, LogLikelihood
from compute.metrics import grid_log_partition  # log int_box exp(-E) dx by the midpoint rule

__all__ = ["EBM", "Config", "dsm_loss", "grid_log_partition", "langevin"]

EnergyFn = Callable[[torch.Tensor], torch.Tensor]  # (B, D) -> (B,)


@dataclass(frozen=True)
class Config:
    variant: str = "cd-persistent"  # dsm | cd-short-run | cd-persistent
    hidden: int = 128
    depth: int = 3  # hidden layers of the energy MLP
    activation: str = "silu"  # "silu" | "softplus": smooth, so grad_x E is smooth for Langevin/DSM
    lr: float = 1e-3
    betas: tuple[float, float] = (0.0, 0.999)  # Du & Mordatch 2019: no momentum on a moving target
    energy_l2: float = 0.1  # alpha on E(x+)^2 + E(x-)^2 (CD variants); 0 reproduces energy explosion
    sgld_steps: int = 40  # Langevin steps per CD update (K)
    # Langevin step eta in standardised units; None: cd 1e-3 (points2d) / 1e-4 (images), dsm 0.1 sigma_min^2
    step_size: float | None = None
    noise_scale: float = 1.0  # Langevin noise multiplier (1 = proper Langevin)
    buffer_size: int = 10_000  # cd-persistent replay buffer
    reinit_prob: float = 0.05  # cd-persistent: chance a chain restarts from noise
    dsm_sigma_min: float = 0.02  # DSM noise levels (standardised units / pixel units)
    dsm_sigma_max: float = 1.0
    dsm_levels: int = 8  # 1 = single-noise DSM at sigma_min with an unconditional energy
    sample_steps: int | None = None  # sample()'s Langevin steps; None: sgld_steps (cd), 25/level (dsm)
    grid_size: int = 256  # quadrature grid per axis for log Z (points2d)
    batch_size: int = 256  # a hint for the trainer


# --------------------------------------------------------------------------------------------
# Reusable pieces (tested in isolation).


def langevin(
    energy: EnergyFn,
    x: torch.Tensor,
    steps: int,
    step_size: float,
    generator: torch.Generator,
    noise_scale: float = 1.0,
    box: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Unadjusted Langevin: x <- x - eta grad E(x) + noise_scale sqrt(2 eta) xi. x (B, D) -> (B, D), detached.

    Noise comes from the CPU ``generator`` (deterministic on any device). ``box`` clamps every step.
    """
    x = x.detach()
    for _ in range(steps):
        with torch.enable_grad():
            x.requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(x).sum(), x)
        xi = torch.randn(tuple(x.shape), generator=generator).to(x.device)
        x = x.detach() - step_size * grad + noise_scale * math.sqrt(2 * step_size) * xi
        if box is not None:
            x = x.clamp(*box)
    return x.detach()


def dsm_loss(
    score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigma: torch.Tensor,
    eps: torch.Tensor,
) -> torch.Tensor:
    """1/2 E || sigma * s(x + sigma eps, sigma) + eps ||^2 (Vincent 2011 with lambda = sigma^2).

    x, eps (B, D); sigma (B, 1); score(x~, sigma) -> (B, D). Minimised by the score of the noisy data.
    """
    x_noisy = x + sigma * eps
    return 0.5 * (sigma * score(x_noisy, sigma) + eps).pow(2).sum(-1).mean()


class EnergyMLP(nn.Module):
    """E(u) or E(u, sigma): MLP -> scalar. The noise-conditional one reads log sigma as an extra input."""

    def __init__(self, d: int, hidden: int, depth: int, activation: str, conditional: bool):
        super().__init__()
        act = {"silu": nn.SiLU, "softplus": nn.Softplus}[activation]
        self.conditional = conditional
        layers: list[nn.Module] = []
        d_in = d + int(conditional)
        for i in range(depth):
            layers += [nn.Linear(d_in if i == 0 else hidden, hidden), act()]
        layers.append(nn.Linear(hidden if depth > 0 else d_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, u: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:  # (B, D) -> (B,)
        if self.conditional:
            assert sigma is not None
            u = torch.cat([u, torch.log(sigma).expand(len(u), 1)], dim=-1)
        return self.net(u).squeeze(-1)


class EBM(Family):
    name: ClassVar[str] = "ebm"
    family: ClassVar[str] = "ebm"
    variants: ClassVar[tuple[str, ...]] = ("dsm", "cd-short-run", "cd-persistent")
    data_kinds: ClassVar[tuple[DataKind, ...]] = ("points2d", "image")
    Config: ClassVar[type] = Config

    def __init__(self, config: Config, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(config, spec, seed, device)
        if spec.kind not in self.data_kinds:
            raise ValueError(f"ebm models {self.data_kinds}, not {spec.kind}")
        if config.variant not in self.variants:
            raise ValueError(f"unknown ebm variant {config.variant!r}; valid: {self.variants}")
        self.points = spec.kind == "points2d"
        if self.points:
            lo, hi = spec.bounds if spec.bounds is not None else (-4.0, 4.0)
            self.shift, self.scale = (lo + hi) / 2, (hi - lo) / 4
            self.box: tuple[float, float] = (-2.0, 2.0)  # the data box in standardised units
        else:
            self.shift, self.scale, self.box = 0.0, 1.0, (0.0, 1.0)
        levels = config.dsm_levels if config.variant == "dsm" else 1
        # (L,) descending noise levels; a single level is sigma_min.
        self.sigmas = (
            torch.exp(torch.linspace(math.log(config.dsm_sigma_max), math.log(config.dsm_sigma_min), levels))
            if levels > 1
            else torch.tensor([config.dsm_sigma_min])
        )
        # Langevin step: CD default per data kind; DSM ties it to the smallest noise level (Song & Ermon
        # 2019 use eta_i / sigma_i^2 = 0.2: a step well inside the 2 sigma^2 stability limit of ULA).
        default_eta = 1e-3 if self.points else 1e-4
        if config.variant == "dsm":
            default_eta = 0.1 * config.dsm_sigma_min**2
        self.step_size = config.step_size or default_eta
        with torch.random.fork_rng(devices=[]):  # same seed, same init; global RNG untouched
            torch.manual_seed(seed)
            self.energy_net = EnergyMLP(spec.dim, config.hidden, config.depth, config.activation, levels > 1)
        self.to(self.device)
        self.opt = torch.optim.Adam(self.energy_net.parameters(), lr=config.lr, betas=config.betas)
        # (buffer_size, D) persistent chains, uniform noise at the start; in the state_dict so a reloaded
        # model samples from the same chains.
        chains = None
        if config.variant == "cd-persistent":
            chains = self._uniform(config.buffer_size, self.generator)
        self.register_buffer("buffer", chains)
        self._version = 0  # bumps on every update; caches log Z per version
        self._log_z: tuple[int, float] | None = None

    # ------------------------------------------------------------------ energies
    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32).reshape(len(x), -1)
        return (x - self.shift) / self.scale

    def _energy_u(self, u: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        """Energy in standardised coordinates, (B, D) -> (B,), at noise level sigma (default sigma_min)."""
        if not self.energy_net.conditional:
            return self.energy_net(u)
        s = self.sigmas[-1] if sigma is None else sigma
        return self.energy_net(u, torch.as_tensor(s, device=u.device, dtype=u.dtype).reshape(-1, 1))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) for data-space x (N, *shape) -> (N,); with ``log_partition``: log p(x) = -E(x) - log Z."""
        return self._energy_u(self._flat(x))

    def log_partition(self) -> float:
        """log Z = log int_box exp(-E(x)) dx by quadrature over ``spec.bounds`` (points2d only)."""
        if not self.points:
            raise ValueError("no tractable partition function for image EBMs (would need AIS)")
        if self._log_z is None or self._log_z[0] != self._version:
            log_z_u = grid_log_partition(self._energy_u, self.box, self.config.grid_size)
            self._log_z = (self._version, log_z_u)
        # dx = s^D du: the same integral in data coordinates.
        return self._log_z[1] + self.spec.dim * math.log(self.scale)

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        """points2d: -E(x) - log Z with log Z by grid quadrature on the box (kind "estimate").
        images: unavailable (the model is unnormalised; we do not fake a number)."""
        if not self.points:
            return LogLikelihood.unavailable()
        self.eval()
        log_z = self.log_partition()
        e = torch.cat([self.energy(xb) for xb in x.split(65_536)])
        return LogLikelihood(values=(-e - log_z).float().cpu(), kind="estimate")

    # ------------------------------------------------------------------ training
    def _uniform(self, n: int, generator: torch.Generator) -> torch.Tensor:
        lo, hi = self.box
        return (lo + (hi - lo) * torch.rand(n, self.spec.dim, generator=generator)).to(self.device)

    def _langevin(
        self,
        u0: torch.Tensor,
        steps: int,
        generator: torch.Generator,
        sigma: Any = None,
        step_size: float | None = None,
        noise_scale: float | None = None,
    ) -> torch.Tensor:
        return langevin(
            lambda u: self._energy_u(u, sigma),
            u0,
            steps,
            step_size or self.step_size,
            generator,
            self.config.noise_scale if noise_scale is None else noise_scale,
            self.box,
        )

    def _negatives(self, n: int) -> torch.Tensor:
        """CD negatives (n, D): short-run chains from noise, or persistent chains from the buffer."""
        c, g = self.config, self.generator
        if c.variant == "cd-short-run":
            return self._langevin(self._uniform(n, g), c.sgld_steps, g)
        assert self.buffer is not None
        idx = torch.randint(0, len(self.buffer), (n,), generator=g).to(self.device)
        u0 = self.buffer[idx]
        restart = (torch.rand(n, generator=g) < c.reinit_prob).to(self.device)
        u0 = torch.where(restart[:, None], self._uniform(n, g), u0)
        neg = self._langevin(u0, c.sgld_steps, g)
        self.buffer[idx] = neg
        return neg

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        self.train()
        c = self.config
        u = self._flat(batch)  # (B, D)
        if c.variant == "dsm":
            k = torch.randint(0, len(self.sigmas), (len(u),), generator=self.generator)
            sigma = self.sigmas[k].to(self.device)[:, None]  # (B, 1)
            eps = torch.randn(tuple(u.shape), generator=self.generator).to(self.device)
            loss = dsm_loss(self._score, u, sigma, eps)
            with torch.no_grad():
                e = self._energy_u(u)
            stats = {
                "dsm": loss.item(),
                "energy_mean": e.mean().item(),
                "energy_abs_max": e.abs().max().item(),
            }
        else:
            neg = self._negatives(len(u))
            e_pos, e_neg = self._energy_u(u), self._energy_u(neg)
            cd = e_pos.mean() - e_neg.mean()  # its gradient is the CD estimate of grad NLL
            reg = (e_pos.pow(2) + e_neg.pow(2)).mean()
            loss = cd + c.energy_l2 * reg
            e = torch.cat([e_pos, e_neg]).detach()
            stats = {
                "cd": cd.item(),
                "energy_pos": e_pos.mean().item(),
                "energy_neg": e_neg.mean().item(),
                "energy_mean": e.mean().item(),
                "energy_abs_max": e.abs().max().item(),
            }
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # a NaN loss propagates into the weights: that *is* the explosion, reported
        self.opt.step()
        self._version += 1
        return {"loss": loss.item(), **stats}

    def _score(self, u: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """s(u, sigma) = -grad_u E(u, sigma), differentiable wrt the parameters (for DSM)."""
        u = u.detach().requires_grad_(True)
        e = self._energy_u(u, sigma)
        (grad,) = torch.autograd.grad(e.sum(), u, create_graph=True)
        return -grad

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        """Langevin samples (n, *shape) on CPU. Knobs: ``steps`` (per noise level for dsm), ``step_size``,
        ``noise_scale``, ``init`` ("noise" = uniform on the box, or "buffer" = persistent chains, the
        default of cd-persistent), ``seed``. ``labels`` are ignored.

        dsm with several levels runs annealed Langevin: eta_i = eta * sigma_i^2 / sigma_min^2 at level i.
        """
        self.eval()
        seed = knobs.get("seed")
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else self.generator
        steps = int(knobs.get("steps") or self._default_sample_steps())
        eta = float(knobs.get("step_size") or self.step_size)
        noise_scale = knobs.get("noise_scale")
        init = knobs.get("init") or ("buffer" if self.buffer is not None else "noise")
        if init == "buffer" and self.buffer is not None:
            idx = torch.randint(0, len(self.buffer), (n,), generator=g).to(self.device)
            u = self.buffer[idx].clone()
        else:
            u = self._uniform(n, g)
        if self.energy_net.conditional:
            for sigma in self.sigmas.tolist():  # Song & Ermon 2019, algorithm 1
                step = eta * (sigma / float(self.sigmas[-1])) ** 2
                u = self._langevin(u, steps, g, sigma, step, noise_scale)
        else:
            u = self._langevin(u, steps, g, None, eta, noise_scale)
        return (u * self.scale + self.shift).reshape(n, *self.spec.shape).cpu()

    def _default_sample_steps(self) -> int:
        c = self.config
        if c.sample_steps:
            return c.sample_steps
        if c.variant == "dsm":
            return 200 if len(self.sigmas) == 1 else 25  # single level: one long chain; else per level
        return c.sgld_steps

    @property
    def nfe(self) -> int:
        """Energy-gradient evaluations per sample with the default sampling settings."""
        return self._default_sample_steps() * len(self.sigmas)
