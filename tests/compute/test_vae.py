"""VAE: closed-form checks of the bound, the KL term and the variants (compute/families/vae.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from compute.families.base import DataSpec
from compute.families.vae import VAE, Config

POINTS = DataSpec(kind="points2d", shape=(2,))  # no bounds: the model works in x itself (scale 1)
POINTS_BOXED = DataSpec(kind="points2d", shape=(2,), bounds=(-5.0, 5.0))
DIGITS = DataSpec(kind="image", shape=(1, 8, 8), levels=17, num_classes=10)


def small(variant: str = "gaussian", **kw) -> Config:
    return Config(variant=variant, hidden=32, depth=1, **kw)


def mixture_batch(n: int = 256, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    return centres[torch.randint(0, 3, (n,), generator=g)] + 0.3 * torch.randn(n, 2, generator=g)


def digit_batch(n: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 17, (n, 1, 8, 8), generator=g).float() / 16


# ---------------------------------------------------------------- the KL term and the variants


def test_kl_matches_closed_form_gaussian_kl():
    vae = VAE(small(), POINTS_BOXED, seed=0)
    x = mixture_batch()
    t = vae.elbo_terms(x)
    q = Normal(t.mu, torch.exp(0.5 * t.logvar))
    expected = kl_divergence(q, Normal(torch.zeros_like(t.mu), torch.ones_like(t.mu)))  # (B, L)
    torch.testing.assert_close(t.kl_per_dim, expected, rtol=1e-5, atol=1e-6)
    # train_step reports the same (unweighted) KL, computed with the parameters before its update.
    out = vae.train_step(x)
    assert out["kl"] == pytest.approx(expected.sum(-1).mean().item(), rel=1e-5)
    assert out["elbo"] == pytest.approx(-(out["recon"] + out["kl"]), rel=1e-6)


def test_beta_scales_the_kl_term_only():
    x = mixture_batch()
    plain = VAE(small("gaussian"), POINTS, seed=3).train_step(x)
    beta = VAE(small("beta", beta=4.0), POINTS, seed=3).train_step(x)
    # Same seed: same init and the same reparameterisation noise, so recon and KL agree ...
    assert beta["recon"] == pytest.approx(plain["recon"], rel=1e-6)
    assert beta["kl"] == pytest.approx(plain["kl"], rel=1e-6)
    # ... and only the KL weight differs.
    assert plain["loss"] == pytest.approx(plain["recon"] + plain["kl"], rel=1e-5)
    assert beta["loss"] == pytest.approx(beta["recon"] + 4.0 * beta["kl"], rel=1e-5)


def test_free_bits_clamps_per_dim_kl():
    x = mixture_batch()
    lam = 50.0  # far above any per-dim KL at init: every dim is clamped
    vae = VAE(small("free-bits", free_bits=lam, latent_dim=3), POINTS, seed=0)
    t = vae.elbo_terms(x)
    term = vae.kl_term(t.kl_per_dim)
    assert term.item() == pytest.approx(lam * 3)
    term.backward()  # a clamped dim sends no gradient to the encoder
    for p in vae.encoder.parameters():
        assert p.grad is None or torch.count_nonzero(p.grad) == 0
    # With lambda = 0 the term is the plain KL; with lambda between, only dims below it are lifted.
    vae0 = VAE(small("free-bits", free_bits=0.0, latent_dim=3), POINTS, seed=0)
    t0 = vae0.elbo_terms(x)
    kl_d = t0.kl_per_dim.mean(0)
    assert vae0.kl_term(t0.kl_per_dim).item() == pytest.approx(kl_d.sum().item(), rel=1e-6)
    mid = float(kl_d.detach().median())
    vae_mid = VAE(small("free-bits", free_bits=mid, latent_dim=3), POINTS, seed=0)
    expected = torch.clamp(kl_d, min=mid).sum().item()
    assert vae_mid.kl_term(t0.kl_per_dim).item() == pytest.approx(expected, rel=1e-6)


def test_kl_annealing_warms_up_linearly():
    vae = VAE(small("kl-annealing", warmup_steps=4), POINTS, seed=0)
    x = mixture_batch()
    weights = [vae.train_step(x)["kl_weight"] for _ in range(6)]
    assert weights == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    out = vae.train_step(x)
    assert out["loss"] == pytest.approx(out["recon"] + out["kl"], rel=1e-5)


# ---------------------------------------------------------------- the bound in closed form


class LinearGaussianDecoder(nn.Module):
    """x | z ~ N(W z + b, s^2 I) with W diagonal: p(x) = N(b, W W^T + s^2 I) in closed form."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor, s: float):
        super().__init__()
        self.w, self.b, self.s = w, b, s

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return Normal(z * self.w + self.b, self.s).log_prob(x).sum(-1)

    @property
    def passes(self) -> int:
        return 1


class PosteriorEncoder(nn.Module):
    """The exact posterior of the linear-Gaussian model (diagonal because W is), optionally shifted."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor, s: float, shift: float = 0.0):
        super().__init__()
        self.var = 1.0 / (1.0 + w**2 / s**2)  # (L,)
        self.w, self.b, self.s, self.shift = w, b, s, shift

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = self.var * self.w * (x - self.b) / self.s**2 + self.shift
        return mu, torch.log(self.var).expand_as(mu)


def linear_gaussian_vae(shift: float = 0.0) -> tuple[VAE, torch.Tensor]:
    w, b, s = torch.tensor([2.0, 0.5]), torch.tensor([0.3, -0.2]), 0.5
    vae = VAE(small(latent_dim=2), POINTS, seed=0)
    vae.decoder = LinearGaussianDecoder(w, b, s)
    vae.encoder = PosteriorEncoder(w, b, s, shift)
    x = b + torch.sqrt(w**2 + s**2) * torch.randn(512, 2, generator=torch.Generator().manual_seed(0))
    log_px = Normal(b, torch.sqrt(w**2 + s**2)).log_prob(x).sum(-1)  # exact marginal
    return vae, (x, log_px)


def test_elbo_is_exact_with_the_true_posterior():
    vae, (x, log_px) = linear_gaussian_vae()
    # With q = p(z|x) every importance weight p(x, z)/q(z|x) equals p(x): IWAE is exact for any k.
    iwae = vae.log_likelihood_iwae(x, k=8)
    assert iwae.kind == "mc-bound"
    torch.testing.assert_close(iwae.values, log_px, rtol=1e-4, atol=1e-4)
    # The ELBO (recon sampled, KL analytic) is exact in expectation: KL(q || p(z|x)) = 0.
    elbo = vae.log_likelihood(x, samples=64)
    assert elbo.kind == "mc-bound"
    assert elbo.values.mean().item() == pytest.approx(log_px.mean().item(), abs=0.02)


def test_elbo_below_iwae_below_log_px_with_a_wrong_posterior():
    vae, (x, log_px) = linear_gaussian_vae(shift=0.3)
    elbo = vae.log_likelihood(x, samples=64).values
    iwae_4 = vae.log_likelihood_iwae(x, k=4).values
    iwae_256 = vae.log_likelihood_iwae(x, k=256).values
    # Per example ELBO <= log p(x) holds exactly (Jensen; the expectation is over many samples here).
    gap = log_px - elbo
    assert (gap > 0).all()
    # KL(q || p(z|x)) in closed form: the shifted posterior costs 0.3^2 / (2 var_j) per dim.
    kl_shift = (0.3**2 / (2 * vae.encoder.var)).sum().item()
    assert gap.mean().item() == pytest.approx(kl_shift, rel=0.05)
    # IWAE is monotone in k on average and stays below log p(x).
    assert elbo.mean() < iwae_4.mean() < iwae_256.mean() < log_px.mean()
    assert (log_px - iwae_256).mean().item() < 0.2 * gap.mean().item()


def test_digit_likelihoods_are_log_probabilities():
    vae = VAE(small(), DIGITS, seed=0)
    x = digit_batch()
    for _ in range(5):
        vae.train_step(x)
    elbo = vae.log_likelihood(x, samples=4).values
    iwae = vae.log_likelihood_iwae(x, k=32).values
    # Discrete data: log P(x) <= 0, and ELBO <= IWAE on average. An untrained model is near
    # uniform over 17 levels, so -log P is about 64 log 17 nats.
    assert (iwae <= 0).all() and (elbo <= 0).all()
    assert elbo.mean() <= iwae.mean()
    assert iwae.mean().item() > -64 * math.log(17) - 30


# ---------------------------------------------------------------- decoders, units, sampling


def test_active_units_counts_dims_whose_posterior_mean_varies():
    vae = VAE(small(latent_dim=3), POINTS, seed=0)

    class OneActive(nn.Module):
        def forward(self, x):
            mu = torch.zeros(len(x), 3)
            mu[:, 1] = x[:, 0]  # only dim 1 depends on x
            return mu, torch.zeros_like(mu)

    vae.encoder = OneActive()
    assert vae.active_units(mixture_batch()) == 1
    assert vae.active_units(mixture_batch(), threshold=1e6) == 0


@pytest.mark.parametrize("spec", [POINTS_BOXED, DataSpec(kind="image", shape=(1, 3, 3), levels=17)])
def test_autoregressive_decoder_respects_the_ordering(spec):
    vae = VAE(small(decoder="autoregressive"), spec, seed=0)
    dec = vae.decoder
    d = spec.dim
    x = torch.rand(4, d)
    z = torch.randn(4, vae.latent_dim)
    base = dec.params(x, z)  # (4, D, P)
    for j in range(d):
        bumped = x.clone()
        bumped[:, j] += 1.0
        changed = (dec.params(bumped, z) - base).abs().amax(dim=(0, 2)) > 0  # (D,)
        assert not changed[: j + 1].any(), f"outputs <= {j} must not see x_{j}"
    assert vae.nfe == d


@pytest.mark.parametrize("decoder", ["mlp", "autoregressive"])
@pytest.mark.parametrize("spec", [POINTS_BOXED, DIGITS])
def test_sampling_shapes_and_seeds(spec, decoder):
    vae = VAE(small(decoder=decoder), spec, seed=0)
    a = vae.sample(7, seed=11)
    b = vae.sample(7, seed=11)
    assert a.shape == (7, *spec.shape) and a.device.type == "cpu"
    torch.testing.assert_close(a, b)
    if spec.kind == "image":
        levels = a * 16
        torch.testing.assert_close(levels, levels.round())
        assert a.min() >= 0 and a.max() <= 1


def test_same_seed_same_model_and_training():
    x = mixture_batch()
    a, b = VAE(small(), POINTS_BOXED, seed=5), VAE(small(), POINTS_BOXED, seed=5)
    for _ in range(3):
        assert a.train_step(x) == b.train_step(x)
    torch.testing.assert_close(a.sample(5), b.sample(5))


def test_training_improves_the_bound():
    vae = VAE(Config(hidden=64, depth=2, lr=3e-3), POINTS_BOXED, seed=0)
    x = mixture_batch(1024)
    before = vae.log_likelihood(x).values.mean().item()
    for i in range(150):
        vae.train_step(x[(i % 4) * 256 : (i % 4 + 1) * 256])
    after = vae.log_likelihood(x).values.mean().item()
    assert after > before + 0.5
