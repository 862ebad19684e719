"""Denoising diffusion: Ho, Jain & Abbeel (2020), "Denoising Diffusion Probabilistic Models" (DDPM).

Forward process with a variance schedule beta_1..beta_T, alpha_t = 1 - beta_t, abar_t = prod_s alpha_s:

    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)                                 (Ho eq. 4)
    x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,   eps ~ N(0, I)

A network eps_theta(x_t, t) predicts the noise; the training loss is L_simple (Ho eq. 14)

    L_simple = E_{t ~ U{1..T}, x_0, eps} || eps - eps_theta(x_t, t) ||^2

and the model's lower bound on log p(x_0) is the ELBO (Ho eq. 5)

    -log p(x_0) <= L_T + sum_{t=2}^T L_{t-1} + L_0
    L_T     = KL(q(x_T | x_0) || N(0, I))                                   prior term
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t))           one Gaussian KL per step
    L_0     = -log p_theta(x_0 | x_1)                                       decoder

with the posterior q(x_{t-1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, betatilde_t I) (Ho eq. 7),
c1_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t), c2_t = sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t),
betatilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t, and p_theta the same Gaussian with x_0 replaced
by the network's x0_hat = (x_t - sqrt(1 - abar_t) eps_theta) / sqrt(abar_t) and variance sigma_t^2.

Pieces from later papers, each a Config switch:
- ``variant="cosine"``: abar_t = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2), s = 0.008
  (Nichol & Dhariwal 2021, eq. 17); ``"linear"``: beta linear in [1e-4, 0.02] for T = 1000 (Ho).
  For T != 1000 the linear range is multiplied by 1000/T (``scale_betas``, as in Nichol & Dhariwal's
  code) so abar_T stays near 0. ``scale_betas=False, T=50`` is the *schedule mismatch* failure:
  abar_T ~ 0.6, the network never sees pure noise, yet sampling starts from N(0, I).
- ``zero_terminal_snr``: Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are
  Flawed", Algorithm 1: shift and scale sqrt(abar) so sqrt(abar_T) = 0 and sqrt(abar_1) is unchanged.
  eps-prediction is undefined at SNR 0 (x0_hat divides by sqrt(abar_T)); like diffusers we keep
  abar_T = 2^-24, and ``prediction="v"`` (v = sqrt(abar) eps - sqrt(1 - abar) x_0, Salimans & Ho 2022)
  is the fix Lin et al. recommend.
- samplers: ``ancestral`` (Ho Algorithm 2, on a strided subsequence of timesteps as in Nichol &
  Dhariwal's respacing) and ``ddim`` (Song, Meng & Ermon 2021, eq. 12; eta = 0 deterministic,
  eta = 1 ancestral); ``nfe`` picks how many timesteps are visited.
- classifier-free guidance (Ho & Salimans 2022): labels are replaced by a null class with
  probability ``label_dropout`` in training; sampling uses eps_u + w (eps_c - eps_u), so w = 1 is
  plain conditional sampling, w = 0 unconditional and w > 1 guided (Ho & Salimans' w is our w - 1).

Coordinates. points2d are standardised, z = (x - c) / s with c, s from ``spec.bounds`` (the box maps
to [-2, 2], so both ring8 and grid25 have per-coordinate std ~1); densities are reported in x,
log p(x) = log p(z) - D log s. Images in [0, 1] map to z = 2x - 1 in [-1, 1] and the decoder is
discretised over the ``spec.levels`` intensity levels (Ho eq. 13), so the ELBO bounds the log
probability of the *discrete* data and -ELBO / (D ln 2) is an upper bound on bits/dim.
``eps``, ``predict``, ``eps_continuous``, ``alpha_bar``, ``schedule``, ``elbo_terms`` and ``denoise``
are public and work in z (``to_model_space`` / ``from_model_space`` convert); ``ema_network`` and
``use_network`` expose and swap the eps-network, so experiments never touch the module's internals.
The networks (an MLP on Fourier features, a small U-Net), the EMA and the optimiser step are shared
with flow matching: compute/families/denoising.py.

Why the defaults meet the 2-D benchmark (ring8 / grid25, modes of std 0.02 / 0.05; measured with
bench/_diffusion_flow_tune.py): random Fourier features of x (Tancik et al. 2020) in front of a
3 x 256 MLP remove the spectral bias that kept a plain MLP at ~20 % high-quality samples after 2,000
steps; half of the training steps are drawn log-uniformly in t (``time_sampling="mixed"``), because
the width of a mode is decided at the few low-noise steps that uniform t visits 1 % of the time; the
cosine schedule; an EMA of the weights; 250 ancestral steps (100 give ~15 % too narrow modes) whose
last step draws from the decoder N(x0_hat, beta_1) instead of returning its mean.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from compute.families.base import DataKind, DataSpec, Family, LogLikelihood, check_choice, model_coordinates
from compute.families.denoising import guided, network_and_ema, optimiser_step, training_labels

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Config:
    variant: str = "cosine"  # "linear" (Ho et al.) | "cosine" (Nichol & Dhariwal)
    T: int = 1000  # diffusion steps of the forward process
    beta_start: float = 1e-4  # linear schedule at T = 1000 (scaled by 1000/T when scale_betas)
    beta_end: float = 0.02
    scale_betas: bool = True  # False with a short T reproduces the schedule mismatch (abar_T >> 0)
    zero_terminal_snr: bool = False  # Lin et al. 2024 rescale: abar_T = 0 (kept at 2^-24)
    prediction: str = "eps"  # "eps" (Ho) | "v" (Salimans & Ho 2022; needed with zero_terminal_snr)
    model_variance: str = "posterior"  # sigma_t^2 of p(x_{t-1}|x_t): "posterior" betatilde_t | "beta"
    sampler: str = "ancestral"  # "ancestral" | "ddim"
    sample_nfe: int = 250  # timesteps visited when sampling (strided), <= T
    eta: float = 0.0  # DDIM stochasticity (0 deterministic, 1 ~ ancestral)
    guidance: float = 1.0  # classifier-free guidance weight w at sampling (1 = conditional, no guidance)
    label_dropout: float = 0.1  # p(label -> null) in training, what makes CFG possible
    time_sampling: str = "mixed"  # "uniform" t ~ U{1..T} (Ho) | "mixed": half uniform, half log-uniform
    hidden: int = 256  # points2d MLP width
    depth: int = 3  # points2d MLP hidden layers
    time_dim: int = 64  # sinusoidal time-embedding size
    fourier_features: int = 64  # points2d: random Fourier features of x (0 = plain MLP)
    fourier_scale: float = 3.0  # their frequency std, cycles per unit of z
    channels: int = 32  # image U-Net base channels
    lr: float = 3e-3
    warmup_steps: int = 100  # linear lr warm-up
    grad_clip: float = 1.0
    ema_decay: float = 0.995  # weights used for sampling / likelihood are an EMA of the trained ones
    batch_size: int = 256  # a hint for the trainer; train_step takes whatever batch it is given
    # KL terms in log_likelihood: k = an unbiased stratified <= k-term estimate of the sum over all T;
    # None = all T for points2d (seconds) and 100 for images (the full sum takes minutes on a CPU)
    elbo_timesteps: int | None = None


# --------------------------------------------------------------------------------------------
# Noise schedules. Index t runs 0..T with abar_0 = 1 (no noise), so every tensor has length T + 1.


def linear_alpha_bars(T: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """abar_t for beta_t linear in [beta_start, beta_end], t = 0..T, float64 (T + 1,)."""
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])


def cosine_alpha_bars(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal eq. 17, with beta_t clipped at 0.999 to avoid a singular last step. (T + 1,)"""
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    betas = (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])


def rescale_zero_terminal_snr(abar: torch.Tensor, floor: float = 2.0**-24) -> torch.Tensor:
    """Lin et al. 2024 Algorithm 1 on sqrt(abar_1..T): last value -> 0, first unchanged. (T + 1,)

    abar_T is then set to ``floor`` instead of 0, so x0_hat = (x_T - ...) / sqrt(abar_T) stays finite.
    """
    sq = abar[1:].sqrt()
    first, last = sq[0].clone(), sq[-1].clone()
    sq = (sq - last) * first / (first - last)
    out = torch.cat([abar[:1], sq**2])
    out[-1] = max(float(out[-1]), floor)
    return out


def make_alpha_bars(config: Config) -> torch.Tensor:
    """The schedule a config asks for, float64 (T + 1,) with abar_0 = 1."""
    if config.variant == "cosine":
        abar = cosine_alpha_bars(config.T)
    elif config.variant == "linear":
        scale = 1000.0 / config.T if config.scale_betas else 1.0
        abar = linear_alpha_bars(config.T, scale * config.beta_start, min(scale * config.beta_end, 0.999))
    else:
        raise ValueError(f"unknown diffusion variant {config.variant!r}; valid: linear, cosine")
    return rescale_zero_terminal_snr(abar) if config.zero_terminal_snr else abar


def strided_timesteps(T: int, nfe: int) -> torch.Tensor:
    """``nfe`` distinct timesteps from T down to 1, evenly spaced (always starts at T). (<= nfe,)"""
    nfe = max(1, min(nfe, T))
    ts = torch.linspace(T, 1, nfe).round().long()
    return torch.unique(ts).flip(0)


def sample_timesteps(n: int, T: int, how: str, generator: torch.Generator) -> torch.Tensor:
    """Training timesteps (n,) in 1..T.

    "mixed" draws half of them log-uniformly: the width of a 0.02-std mode is decided at the few
    low-noise steps that uniform sampling visits 1 % of the time. Only the weighting of L_simple
    over t changes; its minimiser, the true eps(x_t, t) at every t, does not.
    """
    uniform = torch.randint(1, T + 1, (n,), generator=generator)
    if how == "uniform":
        return uniform
    check_choice("time_sampling", how, ("uniform", "mixed"))
    log_uniform = torch.exp(torch.rand(n, generator=generator) * math.log(T)).round().long().clamp(1, T)
    return torch.where(torch.rand(n, generator=generator) < 0.5, log_uniform, uniform)


# --------------------------------------------------------------------------------------------
# The ELBO's pieces. (The networks live in compute/families/denoising.py, shared with flow matching.)


def discretized_gaussian_log_prob(
    z: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, levels: int
) -> torch.Tensor:
    """log P(z) for z on the grid {-1, ..., 1} of ``levels`` values under N(mean, std^2) binned (Ho eq. 13).

    The bin of z is [z - h, z + h], h = 1/(levels - 1); the end bins reach -inf / +inf. Elementwise.
    """
    h = 1.0 / (levels - 1)
    a = torch.where(z <= -1 + 1e-6, torch.full_like(z, -math.inf), (z - h - mean) / std)
    b = torch.where(z >= 1 - 1e-6, torch.full_like(z, math.inf), (z + h - mean) / std)
    # log(Phi(b) - Phi(a)) without cancellation: work in the lower tail, flipping when the bin is
    # above the mean (Phi(b) - Phi(a) = Phi(-a) - Phi(-b)).
    flip = (a + b) > 0
    lo, hi = torch.where(flip, -b, a), torch.where(flip, -a, b)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log1p(-torch.exp(log_lo - log_hi).clamp(max=1 - 1e-12))


class Schedule(NamedTuple):
    """The noise schedule, float32 tensors (T + 1,) indexed by the step t = 0..T."""

    alpha_bar: torch.Tensor  # abar_t, abar_0 = 1
    beta: torch.Tensor  # beta_t = 1 - abar_t / abar_{t-1}, beta_0 = 0
    posterior_var: torch.Tensor  # betatilde_t of q(x_{t-1} | x_t, x_0) (Ho eq. 7)
    c1: torch.Tensor  # the posterior mean is c1_t x_0 + c2_t x_t
    c2: torch.Tensor
    model_var: torch.Tensor  # sigma_t^2 of p_theta(x_{t-1} | x_t) (Config.model_variance)


@dataclass
class ELBOTerms:
    """The DDPM bound split into its terms, nats per example, in the model's z coordinates.

    ``decoder`` = L_0 (N,), ``kl`` = L_{t-1} for t in ``timesteps`` (N, K), ``prior`` = L_T (N,),
    ``log_det`` = log |dz/dx| (N,). ``weights`` (K,) are 1 when ``kl`` holds every t = 2..T; for a
    stratified subset each is the size of the block of steps its draw stands for, so that
    sum_j weights_j kl_j is an unbiased estimate of the full sum. ``log_likelihood_bound()`` (N,).
    """

    decoder: torch.Tensor
    kl: torch.Tensor
    prior: torch.Tensor
    log_det: torch.Tensor
    timesteps: torch.Tensor
    weights: torch.Tensor

    def log_likelihood_bound(self) -> torch.Tensor:
        kl = (self.kl * self.weights.to(self.kl)).sum(1)
        return -(self.decoder + kl + self.prior) + self.log_det


def stratified_timesteps(T: int, k: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(timesteps, weights): one uniform draw in each of <= k geometric blocks of 2..T, weight = block size.

    The KL terms fall off roughly like 1/t, so equal-width blocks would let one draw stand for the
    large terms at t = 2..11; geometric blocks keep the first steps exact (blocks of one step).
    """
    edges = torch.unique(torch.round(torch.logspace(math.log10(2), math.log10(T + 1), k + 1)).long())
    lo, hi = edges[:-1], edges[1:]  # blocks [lo, hi)
    u = torch.rand(len(lo), generator=generator)
    t = (lo + (u * (hi - lo)).long()).clamp(max=hi - 1)
    return t, (hi - lo).double()


# --------------------------------------------------------------------------------------------


class Diffusion(Family):
    name: ClassVar[str] = "diffusion"
    family: ClassVar[str] = "diffusion"
    variants: ClassVar[tuple[str, ...]] = ("linear", "cosine")
    data_kinds: ClassVar[tuple[DataKind, ...]] = ("points2d", "image")
    Config: ClassVar[type] = Config

    def __init__(self, config: Config, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(config, spec, seed, device)
        if spec.kind not in self.data_kinds:
            raise ValueError(f"diffusion models {self.data_kinds}, not {spec.kind}")
        check_choice("prediction", config.prediction, ("eps", "v"))
        check_choice("sampler", config.sampler, ("ancestral", "ddim"))
        check_choice("model_variance", config.model_variance, ("posterior", "beta"))
        # points2d: z = (x - shift) / scale, the bounds box -> [-2, 2]; images: z = 2x - 1
        self.shift, self.scale = model_coordinates(spec, image=(0.5, 0.5))
        self.conditional = bool(spec.num_classes)
        self.null_label = spec.num_classes or 0

        self._register_schedule(make_alpha_bars(config))  # float64 (T + 1,) -> float32 buffers
        self.net, self.ema = network_and_ema(spec, config, seed)  # sampling and likelihood use the EMA
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))
        self.to(self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.lr)

    def _register_schedule(self, abar: torch.Tensor) -> None:
        """Buffers indexed by t = 0..T (float32, computed in float64)."""
        abar_prev = torch.cat([abar[:1], abar[:-1]])
        betas = 1 - abar / abar_prev  # beta_0 = 0
        post_var = betas * (1 - abar_prev) / (1 - abar).clamp(min=1e-20)  # betatilde_t (Ho eq. 7)
        c1 = abar_prev.sqrt() * betas / (1 - abar).clamp(min=1e-20)
        c2 = (1 - betas).sqrt() * (1 - abar_prev) / (1 - abar).clamp(min=1e-20)
        for name, value in [
            ("alpha_bars", abar),
            ("betas", betas),
            ("posterior_var", post_var),
            ("post_c1", c1),
            ("post_c2", c2),
        ]:
            self.register_buffer(name, value.float(), persistent=False)

    # ------------------------------------------------------------------ coordinates and schedule
    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        """A batch in data space -> z on the device (images are snapped to their levels first)."""
        x = x.to(self.device, torch.float32)
        if self.spec.kind == "image" and self.spec.levels:
            x = torch.round(x.clamp(0, 1) * (self.spec.levels - 1)) / (self.spec.levels - 1)
        return (x - self.shift) / self.scale

    def from_model_space(self, z: torch.Tensor) -> torch.Tensor:
        x = z * self.scale + self.shift
        return (x.clamp(0, 1) if self.spec.kind == "image" else x).cpu()

    @property
    def log_det(self) -> float:
        """log |dz/dx| summed over dims (0 for images: their likelihood is of discrete levels)."""
        return -self.spec.dim * math.log(self.scale) if self.spec.kind == "points2d" else 0.0

    def alpha_bar(self, t: torch.Tensor | int) -> torch.Tensor:
        """abar_t for integer steps t in 0..T (abar_0 = 1); same shape as t."""
        t = torch.as_tensor(t, device=self.alpha_bars.device).long()
        return self.alpha_bars[t]

    @property
    def schedule(self) -> Schedule:
        """The whole schedule, t = 0..T (float32 on the device), for analyses of the chain itself."""
        model_var = self.posterior_var if self.config.model_variance == "posterior" else self.betas
        return Schedule(
            self.alpha_bars, self.betas, self.posterior_var, self.post_c1, self.post_c2, model_var
        )

    def _bcast(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v.reshape(-1, *([1] * (x.dim() - 1)))

    def _randn(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        """N(0, I) from the CPU generator (``self.generator`` unless given), moved to the device: the
        same seed gives the same draws on any device, and the trainer can save/restore the stream."""
        return torch.randn(shape, generator=generator or self.generator).to(self.device)

    # ------------------------------------------------------------------ the network and its predictions
    @property
    def ema_network(self) -> nn.Module:
        """The network with the EMA weights, which sampling and likelihoods use:
        (z (B, *shape), t = step / T (B,), labels (B,) | None) -> eps or v (B, *shape)."""
        return self.ema

    def use_network(self, net: nn.Module) -> None:
        """Train and sample with ``net`` (the signature of :attr:`ema_network`) instead: the EMA copy
        and the optimiser are rebuilt, the loss, schedule and samplers stay (e.g. an eps-network that
        is the gradient of an energy)."""
        self.net = net.to(self.device)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)

    def _net_out(
        self, net: nn.Module, z: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None, guidance: float
    ) -> torch.Tensor:
        """Raw network output (eps or v) at steps t (B,), with classifier-free guidance when w != 1."""
        null = self.null_label if self.conditional else None
        return guided(net, z, t.float() / self.config.T, labels, guidance, null)

    def predict(
        self,
        z: torch.Tensor,
        t: torch.Tensor,
        labels: torch.Tensor | None = None,
        guidance: float = 1.0,
        net: nn.Module | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(eps_hat, x0_hat) at z = x_t (B, *shape) in z coordinates, integer steps t (B,) in 1..T.

        ``net``: evaluate this network instead of the EMA weights (e.g. a student distilled from the
        model). Gradients flow; callers that need none wrap the call in ``torch.no_grad()``.
        """
        out = self._net_out(self.ema if net is None else net, z, t, labels, guidance)
        ab = self._bcast(self.alpha_bars[t], z)
        if self.config.prediction == "v":  # v = sqrt(ab) eps - sqrt(1 - ab) x0
            x0 = ab.sqrt() * z - (1 - ab).sqrt() * out
            eps = (1 - ab).sqrt() * z + ab.sqrt() * out
        else:
            eps = out
            x0 = (z - (1 - ab).sqrt() * eps) / ab.sqrt()
        return eps, x0

    def eps_continuous(self, x_t: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """eps_theta(x_t, s) (B, *shape), unconditional, at continuous steps s (B,) in [0, T].

        The network reads t = s / T, so it can be queried between the integer steps it was trained
        on: reading a diffusion model as a flow needs the log-SNRs that fall between them. Gradients
        flow (Jacobians of the field). eps-prediction only: v -> eps would need abar between steps.
        """
        if self.config.prediction != "eps":
            raise ValueError("eps_continuous needs prediction='eps' (v -> eps needs abar between steps)")
        return self._net_out(self.ema, x_t.to(self.device), steps.to(self.device), None, 1.0)

    @torch.no_grad()
    def eps(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor | int,
        labels: torch.Tensor | None = None,
        guidance: float = 1.0,
    ) -> torch.Tensor:
        """The (EMA) model's noise prediction eps_theta(x_t, t) for x_t (B, *shape) in z coordinates.

        ``t``: integer step(s) in 1..T. With abar = alpha_bar(t), x0_hat = (x_t - sqrt(1-abar) eps) /
        sqrt(abar) and, for the linear path of flow matching, velocity and score follow from eps.
        """
        self.eval()
        x_t = x_t.to(self.device, torch.float32)
        t = torch.as_tensor(t, device=self.device).long().expand(len(x_t))
        return self.predict(x_t, t, labels, guidance)[0]

    # ------------------------------------------------------------------ training
    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        c = self.config
        self.net.train()
        z0 = self.to_model_space(batch)  # (B, *shape)
        b = len(z0)
        t = sample_timesteps(b, c.T, c.time_sampling, self.generator).to(self.device)  # (B,)
        noise = self._randn(tuple(z0.shape))
        ab = self._bcast(self.alpha_bars[t], z0)
        zt = ab.sqrt() * z0 + (1 - ab).sqrt() * noise  # Ho eq. 4
        target = noise if c.prediction == "eps" else ab.sqrt() * noise - (1 - ab).sqrt() * z0
        cond = None
        if self.conditional:
            cond = training_labels(labels, b, self.null_label, c.label_dropout, self.generator, self.device)
        pred = self._net_out(self.net, zt, t, cond, 1.0)
        loss = F.mse_loss(pred, target)  # L_simple (Ho eq. 14)
        losses = optimiser_step(loss, self.net, self.ema, self.opt, c, int(self.num_steps))
        self.num_steps += 1
        return losses

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        """n samples (n, *spec.shape) on CPU: x_T ~ N(0, I), then :meth:`denoise`.

        Knobs: those of :meth:`denoise`, and ``seed`` (a fresh generator: same seed, same samples;
        default: ``self.generator``).
        """
        seed = knobs.pop("seed", None)
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        self.eval()
        x_t = self._randn((n, *self.spec.shape), gen)  # x_T ~ N(0, I)
        return self.from_model_space(self.denoise(x_t, labels, generator=gen, **knobs))

    @torch.no_grad()
    def denoise(
        self,
        x_t: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        start: int | None = None,
        sampler: str | None = None,
        nfe: int | None = None,
        eta: float | None = None,
        guidance: float | None = None,
        clip: bool = True,
        decoder_noise: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Run the reverse chain from x_t (B, *shape) in z coordinates at step ``start`` (default T)
        down to x_0; returns z (B, *shape) on the device.

        ``sampler`` "ancestral" | "ddim", ``nfe`` timesteps visited (strided), ``eta`` (DDIM),
        ``guidance`` (CFG weight w, with ``labels`` (B,)), ``clip`` x0_hat to the data's support
        ([-1, 1] for images, the ``spec.bounds`` box for points2d: it stops a poor eps at
        abar_T ~ 1e-9 from throwing samples out), ``decoder_noise`` (ancestral only; default True
        for points2d): draw x_0 from the ELBO's decoder N(x0_hat, beta_1) instead of returning its
        mean; a 0.02-std mode is as narrow as sqrt(beta_1), and the mean alone is ~10 % too narrow.
        """
        c = self.config
        sampler = sampler or c.sampler
        check_choice("sampler", sampler, ("ancestral", "ddim"))
        eta = c.eta if eta is None else float(eta)
        guidance = c.guidance if guidance is None else float(guidance)
        if decoder_noise is None:
            decoder_noise = self.spec.kind == "points2d"
        box = self._support() if clip else None
        start = c.T if start is None else int(start)
        z = x_t.to(self.device, torch.float32)
        if labels is not None:
            labels = labels.to(self.device).long()
        ts = strided_timesteps(start, int(nfe or c.sample_nfe)).tolist()
        for i, t in enumerate(ts):
            s = ts[i + 1] if i + 1 < len(ts) else 0
            tt = torch.full((len(z),), t, device=self.device, dtype=torch.long)
            eps, x0 = self.predict(z, tt, labels, guidance)
            if box is not None:
                x0 = x0.clamp(*box)
                eps = (z - self.alpha_bars[t].sqrt() * x0) / (1 - self.alpha_bars[t]).sqrt()
            z = self._step(z, x0, eps, t, s, sampler, eta, generator)
        if decoder_noise and sampler == "ancestral" and ts and ts[-1] == 1:
            z = z + self.betas[1].sqrt() * self._randn(tuple(z.shape), generator)  # x_0 ~ p(x_0 | x_1)
        return z

    def _support(self) -> tuple[float, float] | None:
        """Where x_0 lives in z coordinates: [-1, 1] for images, the bounds box [-2, 2] for points2d."""
        if self.spec.kind == "image":
            return (-1.0, 1.0)
        return (-2.0, 2.0) if self.spec.bounds is not None else None

    def _step(
        self,
        z: torch.Tensor,
        x0: torch.Tensor,
        eps: torch.Tensor,
        t: int,
        s: int,
        sampler: str,
        eta: float,
        gen: torch.Generator | None,
    ) -> torch.Tensor:
        """One move x_t -> x_s (s < t) of the respaced chain; s = 0 returns x0_hat."""
        if s == 0:
            return x0
        ab_t, ab_s = self.alpha_bars[t], self.alpha_bars[s]
        if sampler == "ddim":  # Song et al. eq. 12 with sigma from eq. 16
            sigma = eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)).sqrt()
            direction = (1 - ab_s - sigma**2).clamp(min=0).sqrt() * eps
            return ab_s.sqrt() * x0 + direction + sigma * self._randn(tuple(z.shape), gen)
        # ancestral: the posterior q(x_s | x_t, x0_hat) of the chain respaced to t -> s
        beta = 1 - ab_t / ab_s
        mean = ab_s.sqrt() * beta / (1 - ab_t) * x0 + (1 - beta).sqrt() * (1 - ab_s) / (1 - ab_t) * z
        var = beta * (1 - ab_s) / (1 - ab_t) if self.config.model_variance == "posterior" else beta
        return mean + var.sqrt() * self._randn(tuple(z.shape), gen)

    @property
    def nfe(self) -> int:
        steps = len(strided_timesteps(self.config.T, self.config.sample_nfe))
        return steps * (2 if self.conditional and self.config.guidance != 1.0 else 1)

    # ------------------------------------------------------------------ likelihood (the ELBO)
    def _model_var(self, t: torch.Tensor) -> torch.Tensor:
        return self.posterior_var[t] if self.config.model_variance == "posterior" else self.betas[t]

    @torch.no_grad()
    def elbo_terms(
        self,
        x: torch.Tensor,
        labels: torch.Tensor | None = None,
        timesteps: int | None = None,
        generator: torch.Generator | None = None,
    ) -> ELBOTerms:
        """Every term of Ho eq. 5 per example (nats); each KL uses one draw x_t ~ q(x_t | x_0).

        ``timesteps``: None for all t = 2..T, or k for a stratified subset of <= k steps
        (:func:`stratified_timesteps`).
        A discrete-time diffusion is a hierarchical VAE with T latent layers x_1..x_T: ``kl[:, j]``
        is the KL of layer ``timesteps[j] - 1``, ``decoder`` its reconstruction term.
        """
        c = self.config
        self.eval()
        gen = generator or torch.Generator().manual_seed(self.seed + 1)
        z0 = self.to_model_space(x)
        n, d = len(z0), self.spec.dim
        all_t = torch.arange(2, c.T + 1)
        weights = torch.ones(len(all_t), dtype=torch.float64)
        if timesteps is not None and timesteps < len(all_t):
            all_t, weights = stratified_timesteps(
                c.T, timesteps, torch.Generator().manual_seed(self.seed + 2)
            )

        def flat_sum(v: torch.Tensor) -> torch.Tensor:
            return v.reshape(n, -1).sum(1)

        kls = []
        for t_int in all_t.tolist():  # L_{t-1}, t = 2..T: Gaussian KL between posterior and model
            t = torch.full((n,), t_int, device=self.device, dtype=torch.long)
            zt = self._q_sample(z0, t_int, gen)
            _, x0_hat = self.predict(zt, t, labels)
            c1, c2 = self.post_c1[t_int], self.post_c2[t_int]
            mean_q, mean_p = c1 * z0 + c2 * zt, c1 * x0_hat + c2 * zt
            var_q, var_p = self.posterior_var[t_int], self._model_var(t)[0]
            kl = 0.5 * ((mean_q - mean_p) ** 2 / var_p)
            kls.append(flat_sum(kl) + 0.5 * d * (var_q / var_p - 1 - torch.log(var_q / var_p)))
        kl = torch.stack(kls, 1) if kls else torch.zeros(n, 0, device=self.device)  # (N, K)

        # L_0 = -log p(x_0 | x_1): mean x0_hat(x_1), variance beta_1 (betatilde_1 = 0)
        t1 = torch.ones(n, device=self.device, dtype=torch.long)
        _, x0_hat = self.predict(self._q_sample(z0, 1, gen), t1, labels)
        std1 = self.betas[1].sqrt()
        if self.spec.kind == "image":
            log_p0 = discretized_gaussian_log_prob(z0, x0_hat.clamp(-1, 1), std1, self.spec.levels or 256)
        else:
            log_p0 = -0.5 * ((z0 - x0_hat) / std1) ** 2 - torch.log(std1) - 0.5 * LOG_2PI
        decoder = -flat_sum(log_p0)

        # L_T = KL(N(sqrt(abar_T) z0, 1 - abar_T) || N(0, 1))
        ab_t = self.alpha_bars[c.T]
        prior = 0.5 * flat_sum(ab_t * z0**2 + (1 - ab_t) - 1 - torch.log(1 - ab_t))
        log_det = torch.full((n,), self.log_det, device=self.device)
        return ELBOTerms(decoder, kl, prior, log_det, all_t, weights)

    def _q_sample(self, z0: torch.Tensor, t: int, gen: torch.Generator) -> torch.Tensor:
        ab = self.alpha_bars[t]
        return ab.sqrt() * z0 + (1 - ab).sqrt() * self._randn(tuple(z0.shape), gen)

    @torch.no_grad()
    def log_likelihood(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, timesteps: int | None = None
    ) -> LogLikelihood:
        """The DDPM ELBO per example in nats; images: of the discrete 17-level data. Kind "mc-bound":
        each KL term is evaluated at a sampled x_t (and, with ``timesteps`` < T, on a stratified sample
        of timesteps), so the number is a Monte-Carlo estimate of the bound.

        ``timesteps`` (default ``Config.elbo_timesteps``) trades exactness of the sum for speed.
        Noise draws come from a fixed seed, so the same model and x give the same numbers.
        """
        k = timesteps if timesteps is not None else self.config.elbo_timesteps
        if k is None and self.spec.kind == "image":
            k = 100
        chunks = x.split(2048)
        label_chunks = labels.split(2048) if labels is not None else [None] * len(chunks)
        out = [
            self.elbo_terms(xb, lb, k).log_likelihood_bound()
            for xb, lb in zip(chunks, label_chunks, strict=True)
        ]
        return LogLikelihood(values=torch.cat(out).cpu(), kind="mc-bound")
