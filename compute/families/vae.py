"""Variational autoencoder: Kingma & Welling (2014), "Auto-Encoding Variational Bayes".

Model: p(z) = N(0, I), decoder p(x|z), encoder q(z|x) = N(mu(x), diag sigma^2(x)). The evidence lower
bound (their eq. 3) with the Gaussian KL in closed form (their appendix B):

    log p(x) >= ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))
    KL       = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)

The expectation uses the reparameterisation z = mu + sigma * eps, eps ~ N(0, I). The variants change
only how the KL enters the *training* loss (the reported ELBO is always the true bound):

    gaussian      L = -recon + KL
    beta          L = -recon + beta * KL                              Higgins et al. 2017 (beta-VAE)
    free-bits     L = -recon + sum_j max(lambda, E_batch[KL_j])       Kingma et al. 2016 (IAF), appendix C
    kl-annealing  L = -recon + min(1, t / T_warmup) * KL             Bowman et al. 2016

Importance-weighted estimate (Burda et al. 2016, IWAE eq. 8), tighter as k grows, -> log p(x) as k -> inf:

    log p(x) ~= log 1/k sum_i p(x, z_i) / q(z_i|x),   z_i ~ q(z|x)

Active units (Burda et al. 2016, section 5.2): A_u = Cov_x(E_q(u|x)[u]) > 0.01.

Decoders (``Config.decoder``):
- ``"mlp"``: z -> MLP -> a factorised p(x|z). points2d: Gaussian per coordinate with a learned
  per-example std (or a fixed ``decoder_std``). image: a categorical over the ``spec.levels`` (17 for
  the 8x8 digits) intensity levels of every pixel, so -ELBO / (64 log 2) is an upper bound on bits/dim
  of the discrete data.
- ``"autoregressive"`` (the strong decoder): a MADE (Germain et al. 2015) over the coordinates/pixels
  with z fed to every hidden layer: p(x|z) = prod_d p(x_d | x_<d, z); each points2d conditional is a
  mixture of ``mixture_components`` Gaussians, each pixel a categorical.

Reproducing posterior collapse (Bowman et al. 2016; Chen et al. 2017, "Variational Lossy Autoencoder"):
a decoder that can model p(x) without z gets no benefit from z, so the ELBO optimum puts
q(z|x) = p(z) (KL -> 0, active units -> 0). Two knobs do it:
  1. ``decoder="autoregressive"``: the MADE with mixture conditionals fits the grid/ring alone; on
     grid25 the KL falls from ~0.6 to ~0.02 nats over ~8k steps while the ELBO keeps improving.
  2. a fixed ``decoder_std`` at or above the data's std per coordinate (2.8 on grid25; e.g. 3.5) with
     the mlp decoder (Lucas et al. 2019, "Don't Blame the ELBO", the linear case: a latent direction
     is used only where the data variance exceeds the decoder variance): KL ~0 within a few hundred
     steps. ``decoder_std=1.0`` keeps both units active.
``variant="kl-annealing"`` or ``"free-bits"`` are the classic remedies; compare ``active_units``.

points2d data are modelled in standardised coordinates u = (x - c) / s (c, s from ``spec.bounds``);
densities are reported in x: log p(x) = log p(u) - D log s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from compute.families.base import DataKind, DataSpec, Family, LogLikelihood, check_choice, model_coordinates

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Config:
    variant: str = "gaussian"  # gaussian | beta | free-bits | kl-annealing
    latent_dim: int | None = None  # None: 2 for points2d, 16 for images
    hidden: int = 256  # width of the encoder/decoder MLPs (and of the MADE)
    depth: int = 2  # hidden layers per MLP
    lr: float = 1e-3
    batch_size: int = 256  # a hint for the trainer; train_step takes whatever batch it is given
    beta: float = 4.0  # variant "beta": weight of the KL term
    free_bits: float = 0.25  # variant "free-bits": lambda, nats per latent dim
    warmup_steps: int = 2000  # variant "kl-annealing": KL weight goes 0 -> 1 linearly over these steps
    decoder: str = "mlp"  # "mlp" | "autoregressive" (strong decoder, see module docstring)
    decoder_std: float | None = None  # points2d mlp decoder: None learns sigma(z); a float fixes it
    min_std: float = 0.01  # floor of a learned decoder std (standardised units): keeps log p finite
    mixture_components: int = 8  # points2d autoregressive decoder: Gaussians per conditional
    eval_samples: int = 16  # z samples per example for the ELBO in log_likelihood


def mlp(d_in: int, hidden: int, d_out: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.SiLU()]
    layers.append(nn.Linear(hidden if depth > 0 else d_in, d_out))
    return nn.Sequential(*layers)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension, same shape as mu (Kingma & Welling, app. B)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, exp(log_std)^2)."""
    return -0.5 * ((x - mean) * torch.exp(-log_std)).pow(2) - log_std - 0.5 * LOG_2PI


# --------------------------------------------------------------------------------------------
# Output heads: how per-dimension parameters (B, D, P) become log p(x_d | .) and samples.


class GaussianHead:
    """Per-dimension Gaussian. params (..., 2) = (mean, raw std); std = fixed or min_std + softplus(raw)."""

    def __init__(self, fixed_std: float | None, min_std: float):
        self.fixed_std, self.min_std, self.n_params = fixed_std, min_std, 2

    def _mean_logstd(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw = params[..., 0], params[..., 1]
        if self.fixed_std is not None:
            return mean, torch.full_like(mean, math.log(self.fixed_std))
        return mean, torch.log(self.min_std + F.softplus(raw))

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # (B, D, 2), (B, D) -> (B, D)
        mean, log_std = self._mean_logstd(params)
        return gaussian_log_prob(x, mean, log_std)

    def sample(self, params: torch.Tensor, noise: Noise) -> torch.Tensor:  # (B, D, 2) -> (B, D)
        mean, log_std = self._mean_logstd(params)
        return mean + log_std.exp() * noise.randn(mean.shape)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return params[..., 0]


class MixtureHead:
    """Per-dimension mixture of K Gaussians. params (..., 3K) = (logits, means, raw stds)."""

    def __init__(self, k: int, min_std: float):
        self.k, self.min_std, self.n_params = k, min_std, 3 * k

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, mean, raw = params.split(self.k, dim=-1)
        return F.log_softmax(logits, dim=-1), mean, torch.log(self.min_std + F.softplus(raw))

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # (B, D, 3K), (B, D) -> (B, D)
        log_w, mean, log_std = self._split(params)
        return torch.logsumexp(log_w + gaussian_log_prob(x[..., None], mean, log_std), dim=-1)

    def sample(self, params: torch.Tensor, noise: Noise) -> torch.Tensor:  # (B, D, 3K) -> (B, D)
        log_w, mean, log_std = self._split(params)
        c = noise.categorical(log_w)[..., None]  # (B, D, 1) component index
        m, s = mean.gather(-1, c).squeeze(-1), log_std.gather(-1, c).squeeze(-1).exp()
        return m + s * noise.randn(m.shape)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        log_w, mean, _ = self._split(params)
        return (log_w.exp() * mean).sum(-1)


class CategoricalHead:
    """Per-pixel categorical over L levels x in {0, 1/(L-1), ..., 1}. params (..., L) = logits."""

    def __init__(self, levels: int):
        self.levels, self.n_params = levels, levels

    def index(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x * (self.levels - 1)).long().clamp_(0, self.levels - 1)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # (B, D, L), (B, D) -> (B, D)
        return F.log_softmax(params, dim=-1).gather(-1, self.index(x)[..., None]).squeeze(-1)

    def sample(self, params: torch.Tensor, noise: Noise) -> torch.Tensor:
        return noise.categorical(F.log_softmax(params, dim=-1)).float() / (self.levels - 1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        grid = torch.linspace(0, 1, self.levels, device=params.device)
        return (F.softmax(params, dim=-1) * grid).sum(-1)


Head = GaussianHead | MixtureHead | CategoricalHead


class Noise:
    """All randomness comes from a CPU generator and is moved to the device: same seed, same draws."""

    def __init__(self, generator: torch.Generator, device: torch.device):
        self.g, self.device = generator, device

    def randn(self, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=self.g).to(self.device)

    def categorical(self, log_p: torch.Tensor) -> torch.Tensor:
        """Index draws from log-probs (..., K) by the Gumbel-max trick."""
        u = torch.rand(tuple(log_p.shape), generator=self.g).to(log_p.device)
        return torch.argmax(log_p - torch.log(-torch.log(u.clamp_min(1e-20))), dim=-1)


# --------------------------------------------------------------------------------------------
# Encoder and decoders. Decoders work on flattened, standardised x (B, D).


class Encoder(nn.Module):
    """x (B, D) -> (mu, logvar), each (B, L)."""

    def __init__(self, d: int, latent: int, hidden: int, depth: int):
        super().__init__()
        self.net = mlp(d, hidden, 2 * latent, depth)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite early in training


class MLPDecoder(nn.Module):
    """Factorised p(x|z) = prod_d p(x_d | z): one network pass."""

    def __init__(self, d: int, latent: int, hidden: int, depth: int, head: Head):
        super().__init__()
        self.d, self.head = d, head
        self.net = mlp(latent, hidden, d * head.n_params, depth)

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # (B, D), (B, L) -> (B,)
        return self.head.log_prob(self.net(z).view(len(z), self.d, -1), x).sum(-1)

    def sample(self, z: torch.Tensor, noise: Noise, use_mean: bool = False) -> torch.Tensor:  # -> (B, D)
        params = self.net(z).view(len(z), self.d, -1)
        return self.head.mean(params) if use_mean else self.head.sample(params, noise)

    @property
    def passes(self) -> int:
        return 1


class MaskedLinear(nn.Linear):
    def __init__(self, d_in: int, d_out: int, mask: torch.Tensor):  # mask (d_out, d_in) of 0/1
        super().__init__(d_in, d_out)
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADEDecoder(nn.Module):
    """Strong decoder: p(x|z) = prod_d p(x_d | x_<d, z), a MADE (Germain et al. 2015) conditioned on z.

    Degrees: input d has degree d (1..D); hidden units get degrees 0..D-1 (degree 0 sees only z);
    hidden k feeds hidden k' when m(k') >= m(k) and output d when d > m(k). z enters every hidden
    layer through an unmasked linear map, so every output may depend on z but x_d never sees x_>=d.
    """

    def __init__(self, d: int, latent: int, hidden: int, depth: int, head: Head):
        super().__init__()
        self.d, self.head = d, head
        deg_in = torch.arange(1, d + 1)  # (D,)
        deg_h = torch.arange(hidden) % d  # (H,) in [0, D-1]
        deg_out = deg_in.repeat_interleave(head.n_params)  # (D*P,) output block d has degree d
        self.layers = nn.ModuleList()
        self.z_proj = nn.ModuleList()
        for i in range(max(depth, 1)):
            mask = deg_h[:, None] >= (deg_in if i == 0 else deg_h)[None, :]
            self.layers.append(MaskedLinear(d if i == 0 else hidden, hidden, mask))
            self.z_proj.append(nn.Linear(latent, hidden, bias=False))
        self.out = MaskedLinear(hidden, d * head.n_params, deg_out[:, None] > deg_h[None, :])

    def params(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # (B, D), (B, L) -> (B, D, P)
        h = x
        for layer, proj in zip(self.layers, self.z_proj, strict=True):
            h = F.silu(layer(h) + proj(z))
        return self.out(h).view(len(x), self.d, -1)

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # -> (B,)
        return self.head.log_prob(self.params(x, z), x).sum(-1)

    def sample(self, z: torch.Tensor, noise: Noise, use_mean: bool = False) -> torch.Tensor:
        x = torch.zeros(len(z), self.d, device=z.device)
        for d in range(self.d):  # one pass per dimension: x_d only depends on x_<d, already filled
            params = self.params(x, z)[:, d]
            x[:, d] = self.head.mean(params) if use_mean else self.head.sample(params, noise)
        return x

    @property
    def passes(self) -> int:
        return self.d


class ElboTerms(NamedTuple):
    recon: torch.Tensor  # (B,) log p(x | z), one z per example
    kl_per_dim: torch.Tensor  # (B, L) closed-form KL(q(z_j|x) || p(z_j))
    mu: torch.Tensor  # (B, L)
    logvar: torch.Tensor  # (B, L)


class VAE(Family):
    name: ClassVar[str] = "vae"
    family: ClassVar[str] = "vae"
    variants: ClassVar[tuple[str, ...]] = ("gaussian", "beta", "free-bits", "kl-annealing")
    data_kinds: ClassVar[tuple[DataKind, ...]] = ("points2d", "image")
    Config: ClassVar[type] = Config

    def __init__(self, config: Config, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(config, spec, seed, device)
        if spec.kind not in self.data_kinds:
            raise ValueError(f"vae models {self.data_kinds}, not {spec.kind}")
        if config.variant not in self.variants:
            raise ValueError(f"unknown vae variant {config.variant!r}; valid: {self.variants}")
        check_choice("decoder", config.decoder, ("mlp", "autoregressive"))
        self.latent_dim = config.latent_dim or (2 if spec.kind == "points2d" else 16)
        # Standardisation of points2d: u = (x - shift) / scale; the box maps to about [-2, 2].
        self.shift, self.scale = model_coordinates(spec)
        with torch.random.fork_rng(devices=[]):  # same seed, same init; global RNG untouched
            torch.manual_seed(seed)
            self._build(config, spec)
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))  # for the KL warm-up
        self.to(self.device)
        self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)

    def _build(self, config: Config, spec: DataSpec) -> None:
        d = spec.dim
        head: Head
        if spec.kind == "image":
            head = CategoricalHead(spec.levels or 256)
        elif config.decoder == "autoregressive":
            head = MixtureHead(config.mixture_components, config.min_std)
        else:
            std = None if config.decoder_std is None else config.decoder_std / self.scale
            head = GaussianHead(std, config.min_std)
        self.encoder = Encoder(d, self.latent_dim, config.hidden, config.depth)
        dec = MADEDecoder if config.decoder == "autoregressive" else MLPDecoder
        self.decoder = dec(d, self.latent_dim, config.hidden, config.depth, head)

    # ------------------------------------------------------------------ coordinates
    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        """A batch in data space -> (B, D) on the device, standardised for points2d."""
        x = x.to(self.device, torch.float32).reshape(len(x), -1)
        return (x - self.shift) / self.scale

    def _unflat(self, u: torch.Tensor) -> torch.Tensor:
        return (u * self.scale + self.shift).reshape(len(u), *self.spec.shape).cpu()

    @property
    def _log_jacobian(self) -> float:
        """log |du/dx| summed over dims: converts a density in u into one in x (0 for images)."""
        return -self.spec.dim * math.log(self.scale) if self.spec.kind == "points2d" else 0.0

    def _encode_input(self, u: torch.Tensor) -> torch.Tensor:
        return u * 2.0 - 1.0 if self.spec.kind == "image" else u  # images [0, 1] -> [-1, 1]

    # ------------------------------------------------------------------ the bound
    def elbo_terms(self, x: torch.Tensor, noise: Noise | None = None) -> ElboTerms:
        """Encoder moments, closed-form KL per latent dim and a one-sample reconstruction term.

        recon is in the density of x (points2d: includes the standardisation Jacobian).
        """
        noise = noise or Noise(self.generator, self.device)
        u = self._flat(x)
        mu, logvar = self.encoder(self._encode_input(u))  # (B, L) each
        z = mu + torch.exp(0.5 * logvar) * noise.randn(mu.shape)  # reparameterisation
        recon = self.decoder.log_prob(u, z) + self._log_jacobian  # (B,)
        return ElboTerms(recon, gaussian_kl(mu, logvar), mu, logvar)

    def kl_weight(self) -> float:
        """The weight of KL in the training loss now (the ELBO itself always uses weight 1)."""
        c = self.config
        if c.variant == "beta":
            return c.beta
        if c.variant == "kl-annealing":
            return min(1.0, float(self.num_steps) / max(c.warmup_steps, 1))
        return 1.0

    def kl_term(self, kl_per_dim: torch.Tensor) -> torch.Tensor:
        """The KL part of the training loss from per-example, per-dim KL (B, L) -> scalar."""
        kl_d = kl_per_dim.mean(0)  # (L,) KL per latent dim, averaged over the batch
        if self.config.variant == "free-bits":
            # Kingma et al. 2016: dims below lambda nats get no gradient to shrink further.
            return torch.clamp(kl_d, min=self.config.free_bits).sum()
        return self.kl_weight() * kl_d.sum()

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        self.train()
        t = self.elbo_terms(batch)
        recon_nll = -t.recon.mean()
        kl = t.kl_per_dim.sum(-1).mean()
        weight = self.kl_weight()
        loss = recon_nll + self.kl_term(t.kl_per_dim)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.num_steps += 1
        return {
            "loss": loss.item(),
            "recon": recon_nll.item(),  # -E_q log p(x|z), nats/example
            "kl": kl.item(),  # KL(q(z|x) || p(z)), nats/example, unweighted
            "elbo": -(recon_nll + kl).item(),
            "kl_weight": weight,
        }

    # ------------------------------------------------------------------ likelihoods
    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, samples: int | None = None) -> LogLikelihood:
        """ELBO per example (nats), averaged over ``samples`` z draws (fixed seed): a Monte-Carlo
        estimate of a lower bound (kind "mc-bound")."""
        self.eval()
        s = samples or self.config.eval_samples
        noise = Noise(torch.Generator().manual_seed(self.seed + 1), self.device)
        out = []
        for xb in x.split(4096):
            acc = torch.zeros(len(xb), device=self.device)
            for _ in range(s):
                t = self.elbo_terms(xb, noise)
                acc += t.recon - t.kl_per_dim.sum(-1)
            out.append(acc / s)
        return LogLikelihood(values=torch.cat(out).cpu(), kind="mc-bound")

    @torch.no_grad()
    def log_likelihood_iwae(self, x: torch.Tensor, k: int = 64) -> LogLikelihood:
        """IWAE estimate log 1/k sum_i p(x, z_i)/q(z_i|x) (Burda et al. 2016, eq. 8), nats/example.

        A stochastic lower bound in expectation, ELBO <= E[IWAE_k] <= log p(x), tight as k -> inf:
        kind "mc-bound".
        """
        self.eval()
        noise = Noise(torch.Generator().manual_seed(self.seed + 2), self.device)
        out = []
        for xb in x.split(max(1, 8192 // k)):
            u = self._flat(xb)  # (B, D)
            mu, logvar = self.encoder(self._encode_input(u))  # (B, L)
            std = torch.exp(0.5 * logvar)
            eps = noise.randn((k, *mu.shape))  # (k, B, L)
            z = mu + std * eps
            log_q = gaussian_log_prob(z, mu, 0.5 * logvar).sum(-1)  # (k, B)
            log_pz = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)  # (k, B)
            u_rep = u.expand(k, *u.shape).reshape(k * len(u), -1)
            log_px_z = self.decoder.log_prob(u_rep, z.reshape(k * len(u), -1)).view(k, len(u))
            log_w = log_px_z + log_pz - log_q  # (k, B)
            out.append(torch.logsumexp(log_w, dim=0) - math.log(k) + self._log_jacobian)
        return LogLikelihood(values=torch.cat(out).cpu(), kind="mc-bound")

    @torch.no_grad()
    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior means E_q[z | x] (B, L) on the device for a batch in data space, e.g. the codes a
        latent prior is trained on."""
        return self.encoder(self._encode_input(self._flat(x)))[0]

    @torch.no_grad()
    def active_units(self, x: torch.Tensor, threshold: float = 0.01) -> int:
        """Latent dims whose posterior mean varies with x: Var_x(E_q[z_j|x]) > threshold (Burda et al.)."""
        self.eval()
        mus = [self.encode_mean(xb) for xb in x.split(4096)]
        mu = torch.cat(mus)  # (N, L)
        return int((mu.var(dim=0, unbiased=False) > threshold).sum())

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        """z ~ N(0, I), x ~ p(x|z). Knobs: ``seed``; ``mean=True`` returns E[x|z] (mlp decoder) or the
        per-step conditional means (autoregressive decoder) instead of a draw. ``labels`` are ignored.
        """
        self.eval()
        seed = knobs.get("seed")
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else self.generator
        noise = Noise(g, self.device)
        z = noise.randn((n, self.latent_dim))
        return self._unflat(self.decoder.sample(z, noise, use_mean=bool(knobs.get("mean", False))))

    @property
    def nfe(self) -> int:
        return self.decoder.passes  # decoder passes per sample (D for the autoregressive decoder)
