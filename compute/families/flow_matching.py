"""Flow matching: Lipman et al. (2023), "Flow Matching for Generative Modeling"; Liu, Gong & Liu (2023),
"Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow".

Time runs from noise (t = 0, x_0 ~ N(0, I)) to data (t = 1, x_1 ~ p_data). With the independent
coupling (x_0, x_1) ~ N(0, I) x p_data and the straight conditional path of Lipman et al. eq. 20-23

    x_t = (1 - (1 - sigma_min) t) x_0 + t x_1,        u_t(x_t | x_0, x_1) = x_1 - (1 - sigma_min) x_0

the conditional flow-matching loss (Lipman eq. 9 with this path; Tong et al. 2024's I-CFM)

    L_CFM = E_{t ~ U[0,1], x_0, x_1} || v_theta(x_t, t) - u_t ||^2

has the same minimiser as regressing the marginal velocity E[u_t | x_t], whose ODE dx/dt = v carries
N(0, I) to the data (to data * N(0, sigma_min^2) for sigma_min > 0).

Variants:
- ``cfm``: sigma_min = 1e-3 by default (a floor that keeps u well defined at t = 1);
- ``rectified``: sigma_min = 0, i.e. 1-rectified flow (Liu et al. eq. 1). ``reflow_at_step = k``
  turns on one reflow (Liu et al. Algorithm 1): after k steps the EMA model integrates
  ``reflow_pairs`` noises to data, and from then on the training pairs are those (x_0, ODE(x_0))
  couplings instead of independent ones, which straightens the flow so few-step Euler works.
  Off by default: simulating the pairs costs ``reflow_pairs * reflow_nfe`` evaluations (seconds on a
  CPU for 2-D, minutes for digits). ``reflow()`` can also be called by hand.

Sampling integrates the ODE with ``euler`` or ``heun`` (Heun's 2nd-order method as in Karras et al.
2022, Algorithm 1); ``nfe`` counts network evaluations (Heun uses two per step). Classifier-free
guidance (Ho & Salimans 2022) mixes velocities v_u + w (v_c - v_u) (w = 1: conditional). The solver is
public: ``integrate`` runs the model's own field, ``integrate_ode`` any field (e.g. a diffusion model's
eps-prediction read as a velocity). The networks, the EMA and the optimiser step are shared with
diffusion: compute/families/denoising.py.

Likelihood (kind "estimate"): the instantaneous change of variables (Chen et al. 2018, eq. 4),

    log p_1(x_1) = log N(x(0); 0, I) - int_0^1 div v(x(t), t) dt,

integrated backwards from the data with Heun on a fixed grid; the divergence is exact (autograd, one
pass per dimension) for 2-D and Hutchinson's estimator E_e[e^T (dv/dx) e] with one Rademacher e per
solve for images (Grathwohl et al. 2019, FFJORD). Both are numerical estimates, hence "estimate".
Images are uniformly dequantised (levels k in 0..L-1 become y = (k + u) / L, u ~ U[0, 1), then
z = 2y - 1), so E_u log p(z) + D log 2 - D log L is a lower bound on log P(k) of the discrete data
(Theis et al. 2016) and samples are mapped back to the levels.

Parameterisation (``prediction``). The loss is always L_CFM on velocities, but by default the network
outputs a clean-data guess x1_hat and the velocity is read off the path, v = (x1_hat - (1 - s) x) /
(1 - (1 - s) t) (s = sigma_min; the denominator floored at ``data_floor``), as Li & He (2025, "Back to
Basics: Let Denoising Generative Models Denoise") advocate. Near t = 1 the marginal velocity jumps by
(mode distance) / (1 - t) across the border between two modes, too steep for a small MLP: a smoothed
velocity there is an *attractor* between the modes, and a plain velocity network left ~7 % of ring8
samples stranded on the ring between modes. x1_hat only has to jump by the mode distance.

Why the defaults meet the 2-D benchmark (ring8 / grid25, modes of std 0.02 / 0.05; measured with
bench/_diffusion_flow_tune.py): points2d are standardised to z = (x - c) / (2 s) (c, s from
``spec.bounds``; the box -> [-1, 1]), so N(0, I) is wider than the data and the corner modes of
grid25 are fed from less extreme noise (mode-weight TV 0.08 -> 0.06 against the box -> [-2, 2]);
data prediction as above; 30 % of the training times have 1 - t log-uniform on [1e-3, 1], where the
field contracts onto the narrow modes; random Fourier features of x (Tancik et al. 2020) remove the
spectral bias of the MLP; an EMA of the weights removes SGD noise; Heun on a grid finer near t = 1
(nfe 100 gives the same samples as nfe 400).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from compute.families.base import DataKind, DataSpec, Family, LogLikelihood, check_choice, model_coordinates
from compute.families.denoising import guided, network_and_ema, optimiser_step, training_labels

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Config:
    variant: str = "cfm"  # "cfm" (Lipman et al.) | "rectified" (Liu et al.)
    sigma_min: float | None = None  # None: 1e-3 for cfm, 0 for rectified
    prediction: str = "data"  # network output: "velocity" v, or "data" x1_hat turned into v (see below)
    data_floor: float = 0.05  # "data": floor on the 1 - (1 - sigma_min) t that divides x1_hat - x
    time_sampling: str = "mixed"  # "uniform" | "mixed" (30 % near the data) | "logit-normal"
    sampler: str = "heun"  # "euler" | "heun"
    sample_nfe: int = 100  # network evaluations per sample (Heun: two per step)
    time_grid: str = "quadratic"  # "uniform" | "quadratic": t_i = 1 - (1 - i/N)^2, finer near the data
    guidance: float = 1.0  # classifier-free guidance weight w (1 = conditional, no guidance)
    label_dropout: float = 0.1  # p(label -> null) in training
    hidden: int = 256  # points2d MLP width
    depth: int = 3  # points2d MLP hidden layers
    time_dim: int = 64  # sinusoidal time-embedding size
    fourier_features: int = 128  # points2d: random Fourier features of x (0 = plain MLP)
    fourier_scale: float = 3.0  # their frequency std, cycles per unit of z
    film: bool = False  # points2d: FiLM time conditioning in every layer instead of an input concat
    data_scale: float = 2.0  # points2d: z = (x - c) / (data_scale * s), the box -> [-2, 2] / data_scale
    channels: int = 32  # image U-Net base channels
    lr: float = 3e-3
    warmup_steps: int = 100  # linear lr warm-up
    grad_clip: float = 1.0
    ema_decay: float = 0.995  # sampling and likelihood use an EMA of the weights
    batch_size: int = 256  # a hint for the trainer; train_step takes whatever batch it is given
    reflow_at_step: int | None = None  # rectified: switch to reflow couplings after this many steps
    reflow_pairs: int = 8192  # couplings simulated for reflow
    reflow_nfe: int = 50  # Heun evaluations per reflow pair
    likelihood_nfe: int = 100  # Heun evaluations for the change-of-variables integral

    def __post_init__(self) -> None:
        if self.variant not in ("cfm", "rectified"):
            raise ValueError(f"unknown flow-matching variant {self.variant!r}; valid: cfm, rectified")

    @property
    def sigma(self) -> float:
        """The sigma_min in force (variant default when None)."""
        if self.sigma_min is not None:
            return self.sigma_min
        return 1e-3 if self.variant == "cfm" else 0.0


def sample_times(n: int, how: str, generator: torch.Generator) -> torch.Tensor:
    """Training times (n,) in [0, 1).

    "mixed": 70 % uniform, 30 % with 1 - t log-uniform on [1e-3, 1]: the field must contract onto
    0.02-wide modes only in the last few percent of the time, which uniform t barely visits, while
    the mode weights are decided at mid t (more near-data draws gave narrower modes but worse
    weights on grid25). This reweights the loss over t, not its minimiser.
    """
    uniform = torch.rand(n, generator=generator)
    if how == "uniform":
        return uniform
    if how == "logit-normal":  # Esser et al. 2024 (SD3): most weight on mid t
        return torch.sigmoid(torch.randn(n, generator=generator))
    check_choice("time_sampling", how, ("uniform", "mixed", "logit-normal"))
    near_data = 1 - torch.exp(torch.rand(n, generator=generator) * math.log(1e-3))
    return torch.where(torch.rand(n, generator=generator) < 0.3, near_data, uniform)


def time_grid(steps: int, how: str) -> torch.Tensor:
    """ODE grid 0 = t_0 < ... < t_steps = 1, (steps + 1,)."""
    s = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    if how == "quadratic":
        s = 1 - (1 - s) ** 2
    else:
        check_choice("time_grid", how, ("uniform", "quadratic"))
    return s.float()


def linear_path(
    x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, sigma_min: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, u_t) of Lipman et al. eq. 22-23 for t (B,), s = sigma_min:

    x_t = (1 - (1 - s) t) x0 + t x1,   u_t = x1 - (1 - s) x0.
    """
    tb = t.reshape(-1, *([1] * (x0.dim() - 1)))
    xt = (1 - (1 - sigma_min) * tb) * x0 + tb * x1
    return xt, x1 - (1 - sigma_min) * x0


def integrate_ode(
    velocity: Callable[[torch.Tensor, float], torch.Tensor],
    x: torch.Tensor,
    nfe: int,
    sampler: str,
    grid: str,
) -> torch.Tensor:
    """ODE dx/dt = velocity(x, t) from t = 0 to 1 on :func:`time_grid` with ``nfe`` evaluations
    (Euler: nfe steps; Heun: nfe // 2 steps of two). Any field will do, e.g. a diffusion model's
    eps-prediction read as a velocity."""
    steps = max(1, nfe // 2) if sampler == "heun" else max(1, nfe)
    ts = time_grid(steps, grid).tolist()
    for t, t_next in zip(ts[:-1], ts[1:], strict=True):
        dt = t_next - t
        v = velocity(x, t)
        if sampler == "euler":
            x = x + dt * v
        else:  # Heun: average the slopes at both ends of the Euler step
            x_pred = x + dt * v
            x = x + 0.5 * dt * (v + velocity(x_pred, t_next))
    return x


class FlowMatching(Family):
    name: ClassVar[str] = "flow-matching"
    family: ClassVar[str] = "flow"
    variants: ClassVar[tuple[str, ...]] = ("cfm", "rectified")
    data_kinds: ClassVar[tuple[DataKind, ...]] = ("points2d", "image")
    Config: ClassVar[type] = Config

    def __init__(self, config: Config, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(config, spec, seed, device)
        if spec.kind not in self.data_kinds:
            raise ValueError(f"flow matching models {self.data_kinds}, not {spec.kind}")
        check_choice("sampler", config.sampler, ("euler", "heun"))
        check_choice("prediction", config.prediction, ("velocity", "data"))
        # points2d: z = (x - shift) / scale, the bounds box -> [-2, 2] / data_scale; images: z = 2y - 1
        # (dequantised in to_model_space, so their shift and scale stay the identity)
        self.shift, self.scale = model_coordinates(spec, config.data_scale)
        self.levels = spec.levels or 256
        self.conditional = bool(spec.num_classes)
        self.null_label = spec.num_classes or 0
        self.net, self.ema = network_and_ema(spec, config, seed, film=config.film)  # sampling uses the EMA
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))
        self.to(self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self._pairs: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None  # reflow couplings

    # ------------------------------------------------------------------ coordinates
    def to_model_space(
        self, x: torch.Tensor, dequantize: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Data -> z on the device. Images: levels k -> y = (k + u) / L (u = 1/2, or U[0, 1)) -> 2y - 1."""
        x = x.to(self.device, torch.float32)
        if self.spec.kind != "image":
            return (x - self.shift) / self.scale
        k = torch.round(x.clamp(0, 1) * (self.levels - 1))
        u = (
            torch.rand(tuple(x.shape), generator=generator or self.generator).to(self.device)
            if dequantize
            else torch.full_like(x, 0.5)
        )
        return 2 * (k + u) / self.levels - 1

    def from_model_space(self, z: torch.Tensor) -> torch.Tensor:
        if self.spec.kind != "image":
            return (z * self.scale + self.shift).cpu()
        k = torch.floor((z + 1) / 2 * self.levels).clamp(0, self.levels - 1)  # back to the levels
        return (k / (self.levels - 1)).cpu()

    @property
    def log_det(self) -> float:
        """log |dz/dx| summed over dims; for images dz/dy = 2 and the bin volume 1/L per dim."""
        if self.spec.kind == "image":
            return self.spec.dim * (math.log(2.0) - math.log(self.levels))
        return -self.spec.dim * math.log(self.scale)

    def _randn(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        """N(0, I) from the CPU generator (``self.generator`` unless given), moved to the device: the
        same seed gives the same draws on any device, and the trainer can save/restore the stream."""
        return torch.randn(shape, generator=generator or self.generator).to(self.device)

    # ------------------------------------------------------------------ the velocity field
    def velocity(
        self,
        x: torch.Tensor,
        t: torch.Tensor | float,
        labels: torch.Tensor | None = None,
        guidance: float = 1.0,
        net: nn.Module | None = None,
    ) -> torch.Tensor:
        """v_theta(x, t) for x (B, *shape) in z coordinates, t in [0, 1] (scalar or (B,)); EMA weights."""
        net = net or self.ema
        t = torch.as_tensor(t, device=self.device, dtype=torch.float32).expand(len(x))
        out = guided(net, x, t, labels, guidance, self.null_label if self.conditional else None)
        return self._to_velocity(out, x, t)

    def _to_velocity(self, out: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Network output -> velocity; "data" uses u = x1 - (1-s) x0 = (x1 - (1-s) x_t) / (1 - (1-s) t)."""
        if self.config.prediction == "velocity":
            return out
        s = self.config.sigma
        denom = (1 - (1 - s) * t).clamp(min=self.config.data_floor).reshape(-1, *([1] * (x.dim() - 1)))
        return (out - (1 - s) * x) / denom

    # ------------------------------------------------------------------ training
    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        c = self.config
        k = int(self.num_steps)
        if (
            c.variant == "rectified"
            and c.reflow_at_step is not None
            and k >= c.reflow_at_step
            and self._pairs is None
        ):
            self.reflow(c.reflow_pairs, c.reflow_nfe)
        self.net.train()
        b = len(batch)
        if self._pairs is not None:  # reflow: train on the model's own (noise, sample) couplings
            idx = torch.randint(0, len(self._pairs[0]), (b,), generator=self.generator).to(self.device)
            x0, x1 = self._pairs[0][idx], self._pairs[1][idx]
            labels = None if self._pairs[2] is None else self._pairs[2][idx]
        else:
            x1 = self.to_model_space(batch, dequantize=True)  # (B, *shape)
            x0 = self._randn(tuple(x1.shape))
        t = sample_times(b, c.time_sampling, self.generator).to(self.device)  # (B,)
        xt, target = linear_path(x0, x1, t, c.sigma)
        cond = None
        if self.conditional:
            cond = training_labels(labels, b, self.null_label, c.label_dropout, self.generator, self.device)
        pred = self.net(xt, t, cond) if self.conditional else self.net(xt, t)
        loss = F.mse_loss(self._to_velocity(pred, xt, t), target)  # L_CFM
        losses = optimiser_step(loss, self.net, self.ema, self.opt, c, k)
        self.num_steps += 1
        return losses

    @torch.no_grad()
    def reflow(self, n_pairs: int, nfe: int | None = None, labels: torch.Tensor | None = None) -> None:
        """Liu et al. Algorithm 1, one round: simulate (x_0, ODE(x_0)) couplings with the EMA model.

        Later ``train_step`` calls regress on these pairs instead of fresh independent ones.
        Conditional models draw uniform labels unless ``labels`` (n_pairs,) are given.
        """
        self.eval()
        if self.conditional and labels is None:
            labels = torch.randint(0, self.spec.num_classes or 1, (n_pairs,), generator=self.generator)
        x0s, x1s = [], []
        for i in range(0, n_pairs, 2048):
            x0 = self._randn((min(2048, n_pairs - i), *self.spec.shape))
            lab = None if labels is None else labels[i : i + len(x0)].to(self.device)
            x0s.append(x0)
            x1s.append(self.integrate(x0, lab, nfe or self.config.reflow_nfe, "heun"))
        lab_all = None if labels is None else labels.to(self.device).long()
        self._pairs = (torch.cat(x0s), torch.cat(x1s), lab_all)

    # ------------------------------------------------------------------ sampling
    def integrate(
        self,
        x: torch.Tensor,
        labels: torch.Tensor | None = None,
        nfe: int | None = None,
        sampler: str | None = None,
        guidance: float = 1.0,
        grid: str | None = None,
    ) -> torch.Tensor:
        """Carry x (B, *shape) in z coordinates from t = 0 (noise) to t = 1 (data) along the EMA
        velocity; ``nfe``, ``sampler`` and ``grid`` default to the config's sampling settings."""
        c = self.config

        def field(y: torch.Tensor, t: float) -> torch.Tensor:
            return self.velocity(y, t, labels, guidance)

        nfe = c.sample_nfe if nfe is None else nfe
        return integrate_ode(field, x, nfe, sampler or c.sampler, grid or c.time_grid)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        """n samples (n, *spec.shape) on CPU.

        Knobs: ``sampler`` ("euler" | "heun"), ``nfe`` (network evaluations), ``time_grid``
        ("uniform" | "quadratic"), ``guidance`` (CFG weight w, with ``labels`` (n,)), ``seed``.
        """
        c = self.config
        sampler = knobs.get("sampler", c.sampler)
        check_choice("sampler", sampler, ("euler", "heun"))
        gen = torch.Generator().manual_seed(int(knobs["seed"])) if knobs.get("seed") is not None else None
        self.eval()
        x0 = self._randn((n, *self.spec.shape), gen)
        x1 = self.integrate(
            x0,
            labels,
            int(knobs.get("nfe", c.sample_nfe)),
            sampler,
            float(knobs.get("guidance", c.guidance)),
            knobs.get("time_grid"),
        )
        return self.from_model_space(x1)

    @property
    def nfe(self) -> int:
        c = self.config
        per_step = 2 if c.sampler == "heun" else 1
        evals = max(1, c.sample_nfe // per_step) * per_step
        return evals * (2 if self.conditional and c.guidance != 1.0 else 1)

    # ------------------------------------------------------------------ likelihood
    def _divergence(
        self, x: torch.Tensor, t: float, labels: torch.Tensor | None, probe: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(v (B, *shape), div v (B,)): exact for ``probe=None``, else Hutchinson e^T J e."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            v = self.velocity(x, t, labels)
            if probe is None:
                flat = v.reshape(len(x), -1)
                div = torch.zeros(len(x), device=self.device)
                for i in range(flat.shape[1]):  # one backward pass per dimension: exact trace
                    g = torch.autograd.grad(flat[:, i].sum(), x, retain_graph=True)[0]
                    div = div + g.reshape(len(x), -1)[:, i]
            else:
                g = torch.autograd.grad((v * probe).sum(), x)[0]
                div = (g * probe).reshape(len(x), -1).sum(1)
        return v.detach(), div.detach()

    def log_likelihood(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, nfe: int | None = None
    ) -> LogLikelihood:
        """log p(x) in nats by the instantaneous change of variables (kind "estimate").

        Heun from t = 1 back to 0 on the sampling grid; exact divergence for 2-D, one Rademacher
        Hutchinson probe per solve for images (whose values bound log P of the discrete levels).
        Noise (dequantisation, probes) comes from a fixed seed, so repeated calls agree. The ODE
        solve has no sign guarantee, so even the image numbers (a dequantisation bound) stay an
        "estimate" under the one rule in compute.families.base.
        """
        self.eval()
        gen = torch.Generator().manual_seed(self.seed + 1)
        steps = max(1, (nfe or self.config.likelihood_nfe) // 2)
        ts = time_grid(steps, self.config.time_grid).flip(0).tolist()  # 1 -> 0
        out = []
        chunks = x.split(1024)
        lab_chunks = labels.split(1024) if labels is not None else [None] * len(chunks)
        for xb, lb in zip(chunks, lab_chunks, strict=True):
            z = self.to_model_space(xb, dequantize=True, generator=gen)
            probe = None
            if self.spec.kind == "image":
                probe = (torch.randint(0, 2, tuple(z.shape), generator=gen) * 2.0 - 1.0).to(self.device)
            delta = torch.zeros(len(z), device=self.device)  # int_0^1 div v dt
            for t, t_next in zip(ts[:-1], ts[1:], strict=True):  # dt < 0
                dt = t_next - t
                v, div = self._divergence(z, t, lb, probe)
                z_pred = z + dt * v
                v2, div2 = self._divergence(z_pred, t_next, lb, probe)
                z = z + 0.5 * dt * (v + v2)
                delta = delta - 0.5 * dt * (div + div2)
            log_p0 = (-0.5 * z**2 - 0.5 * LOG_2PI).reshape(len(z), -1).sum(1)
            out.append(log_p0 - delta + self.log_det)
        return LogLikelihood(values=torch.cat(out).cpu(), kind="estimate")
