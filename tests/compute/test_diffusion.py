"""DDPM: closed-form checks of the schedules, the samplers and the ELBO (compute/families/diffusion.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from compute.families.diffusion import (
    Config,
    Diffusion,
    cosine_alpha_bars,
    discretized_gaussian_log_prob,
    linear_alpha_bars,
    make_alpha_bars,
    strided_timesteps,
)
from tests.compute.denoisers import DIGITS, POINTS, RING_SPEC, small_config, two_blob_losses


def small(**kw) -> Config:
    return small_config(Config, **kw)


# ---------------------------------------------------------------- schedules


def test_linear_schedule_at_T_1000_ends_near_4e_5():
    abar = linear_alpha_bars(1000, 1e-4, 0.02)
    assert abar[0] == 1.0
    assert torch.all(abar[1:] < abar[:-1]), "abar must decrease strictly"
    assert abar[-1].item() == pytest.approx(4.04e-5, rel=0.02)
    assert abar[1].item() == pytest.approx(1 - 1e-4)


def test_cosine_schedule_is_monotone_and_ends_at_zero():
    abar = cosine_alpha_bars(1000)
    assert abar[0] == 1.0
    assert torch.all(abar[1:] < abar[:-1])
    assert abar[-1].item() < 1e-6
    # Nichol & Dhariwal eq. 17 at an interior point
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert abar[500].item() == pytest.approx(f(500) / f(0), rel=1e-6)


def test_short_unscaled_linear_schedule_is_the_mismatch_and_scaling_fixes_it():
    mismatch = make_alpha_bars(Config(variant="linear", T=50, scale_betas=False))
    assert 0.55 < mismatch[-1].item() < 0.65  # x_T still remembers x_0, yet sampling starts at N(0, I)
    scaled = make_alpha_bars(Config(variant="linear", T=50))
    assert scaled[-1].item() < 1e-3


def test_zero_terminal_snr_rescale():
    base = make_alpha_bars(Config(variant="linear", T=50, scale_betas=False))
    zt = make_alpha_bars(Config(variant="linear", T=50, scale_betas=False, zero_terminal_snr=True))
    assert zt[-1].item() == pytest.approx(2.0**-24)  # 0, kept finite
    assert zt[1].item() == pytest.approx(base[1].item(), rel=1e-9)  # first step unchanged
    assert torch.all(zt[1:] < zt[:-1])


def test_strided_timesteps_start_at_T_end_at_1_and_are_distinct():
    for T, nfe in [(1000, 250), (1000, 1000), (1000, 7), (50, 50), (50, 200)]:
        ts = strided_timesteps(T, nfe)
        assert ts[0] == T and ts[-1] == 1
        assert torch.all(ts[1:] < ts[:-1])
        assert len(ts) == min(nfe, T)


# ---------------------------------------------------------------- an exact eps-model for Gaussian data


class GaussianOracle(nn.Module):
    """The optimal eps(x_t, t) for x_0 ~ N(m, v I):

    E[eps | x_t] = sqrt(1 - abar) (x_t - sqrt(abar) m) / (abar v + 1 - abar).
    """

    def __init__(self, alpha_bars: torch.Tensor, T: int, m: torch.Tensor, v: float):
        super().__init__()
        self.alpha_bars, self.T, self.m, self.v = alpha_bars, T, m, v

    def forward(self, z: torch.Tensor, tt: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        ab = self.alpha_bars[torch.round(tt * self.T).long()][:, None]
        return (1 - ab).sqrt() * (z - ab.sqrt() * self.m) / (ab * self.v + 1 - ab)


def oracle_model(T: int = 1000, variant: str = "cosine") -> tuple[Diffusion, torch.Tensor, float]:
    m, s = torch.tensor([0.5, -0.3]), 0.7
    model = Diffusion(small(variant=variant, T=T), POINTS, seed=0)
    model.ema = GaussianOracle(model.alpha_bars.double(), T, m.double(), s**2)
    model.ema.double()
    return model, m, s


def closed_form_elbo(model: Diffusion, x: torch.Tensor, m: torch.Tensor, v: float) -> torch.Tensor:
    """E_{x_1:T ~ q}[ELBO(x)] per example for the oracle above (d = 2), in float64.

    With x0_hat = m + k_t (x_t - sqrt(abar_t) m), k_t = sqrt(abar_t) v / (abar_t v + 1 - abar_t):
    E||x_0 - x0_hat||^2 = (1 - k_t sqrt(abar_t))^2 ||x_0 - m||^2 + d k_t^2 (1 - abar_t).
    """
    d = x.shape[1]
    ab = model.alpha_bars.double()
    abp = torch.cat([ab[:1], ab[:-1]])
    beta = 1 - ab / abp
    post_var = beta * (1 - abp) / (1 - ab).clamp(min=1e-30)
    c1 = abp.sqrt() * beta / (1 - ab).clamp(min=1e-30)
    r2 = ((x.double() - m.double()) ** 2).sum(1)  # (N,)
    k = ab.sqrt() * v / (ab * v + 1 - ab)
    err = (1 - k * ab.sqrt())[None] ** 2 * r2[:, None] + d * (k**2 * (1 - ab))[None]  # (N, T + 1)
    T = model.config.T
    t = torch.arange(2, T + 1)
    kl = 0.5 * c1[t] ** 2 * err[:, t] / post_var[t]  # posterior variance model: no variance term
    decoder = 0.5 * d * math.log(2 * math.pi * beta[1]) + err[:, 1] / (2 * beta[1])
    prior = 0.5 * (ab[T] * (x.double() ** 2).sum(1) + d * ((1 - ab[T]) - 1 - torch.log(1 - ab[T])))
    return -(kl.sum(1) + decoder + prior)


def test_elbo_of_the_exact_eps_model_matches_its_closed_form_and_bounds_log_p():
    model, m, s = oracle_model()
    g = torch.Generator().manual_seed(0)
    x = m + s * torch.randn(4096, 2, generator=g)
    model.alpha_bars = model.alpha_bars.double()  # the oracle and the bound in float64
    for name in ("betas", "posterior_var", "post_c1", "post_c2"):
        setattr(model, name, getattr(model, name).double())
    terms = model.elbo_terms(x.double())
    elbo = terms.log_likelihood_bound()
    expected = closed_form_elbo(model, x, m, s**2)
    # one noise draw per term: ~1.9 nats of noise per example, so compare means within 4 standard errors
    diff = elbo - expected
    assert abs(diff.mean().item()) < 4 * diff.std().item() / math.sqrt(len(diff)) < 0.15
    true_ll = torch.distributions.Normal(m.double(), s).log_prob(x.double()).sum(1)
    # E_data[ELBO] <= E_data[log p_model] <= E_data[log p_data] (Jensen, then Gibbs). The gap (~0.8 nats
    # here) stays even for the exact eps: p(x_{t-1} | x_t) has the fixed variance betatilde_t.
    assert expected.mean() <= true_ll.mean()
    assert elbo.mean() <= true_ll.mean()
    assert terms.kl.shape == (4096, 999) and terms.decoder.shape == (4096,)
    # the stratified estimate is unbiased: its mean agrees with the full sum
    sub = model.elbo_terms(x.double(), timesteps=100).log_likelihood_bound()
    assert sub.mean().item() == pytest.approx(elbo.mean().item(), abs=0.1)


def test_log_likelihood_reports_a_bound_in_x_coordinates():
    model = Diffusion(small(T=100), RING_SPEC, seed=0)
    x = torch.randn(16, 2)
    ll = model.log_likelihood(x)
    assert ll.kind == "mc-bound" and ll.values.shape == (16,)
    terms = model.elbo_terms(x)
    # z = x / 1.5, so log p(x) = log p(z) - 2 log 1.5
    assert terms.log_det[0].item() == pytest.approx(-2 * math.log(1.5))
    torch.testing.assert_close(ll.values, model.log_likelihood(x).values)  # fixed-seed noise


def test_discretised_decoder_sums_to_one_over_the_levels():
    levels = 17
    z = torch.linspace(-1, 1, levels)  # every level
    for mean, std in [(0.0, 0.05), (0.93, 0.01), (-1.2, 0.3), (0.5, 2.0)]:
        p = discretized_gaussian_log_prob(z, torch.full_like(z, mean), torch.tensor(std), levels).exp()
        assert p.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert torch.all(p >= 0)


def test_digits_elbo_is_a_bound_on_discrete_data():
    model = Diffusion(small(T=50), DIGITS, seed=0)
    x = torch.randint(0, 17, (4, 1, 8, 8)).float() / 16
    ll = model.log_likelihood(x)
    assert ll.kind == "mc-bound"
    assert torch.all(ll.values < 0)  # log P of discrete data is <= 0, and so is any bound on it


# ---------------------------------------------------------------- samplers


def test_ddim_with_eta_0_is_deterministic_given_x_T():
    model, _, _ = oracle_model(T=200)
    x_t = torch.randn(64, 2, generator=torch.Generator().manual_seed(1)).double()
    a = model.denoise(x_t, sampler="ddim", eta=0.0, nfe=20, generator=torch.Generator().manual_seed(2))
    b = model.denoise(x_t, sampler="ddim", eta=0.0, nfe=20, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = model.denoise(x_t, sampler="ddim", eta=1.0, nfe=20, generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(a, c)


@pytest.mark.parametrize(("sampler", "eta"), [("ancestral", 0.0), ("ddim", 0.0), ("ddim", 1.0)])
def test_samplers_recover_a_gaussian_from_the_exact_eps(sampler: str, eta: float):
    model, m, s = oracle_model(T=1000)
    x = model.sample(4000, sampler=sampler, eta=eta, nfe=100, seed=0, clip=False).double()
    torch.testing.assert_close(x.mean(0), m.double(), atol=0.04, rtol=0)
    torch.testing.assert_close(x.std(0), torch.full((2,), s, dtype=torch.float64), atol=0.04, rtol=0)


def test_same_seed_same_samples_and_nfe():
    model = Diffusion(small(T=100, sample_nfe=10), RING_SPEC, seed=0)
    a, b = model.sample(8, seed=4), model.sample(8, seed=4)
    assert torch.equal(a, b) and a.shape == (8, 2)
    assert model.nfe == 10


# ---------------------------------------------------------------- parameterisations and guidance


def test_v_prediction_outputs_are_consistent():
    model = Diffusion(small(T=100, prediction="v", zero_terminal_snr=True, variant="linear"), POINTS, seed=0)
    z = torch.randn(8, 2)
    for t in (1, 50, 100):
        tt = torch.full((8,), t)
        eps, x0 = model.predict(z, tt)
        ab = model.alpha_bar(t)
        torch.testing.assert_close(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, z, atol=1e-4, rtol=1e-4)


def test_classifier_free_guidance_interpolates_conditional_and_unconditional():
    model = Diffusion(small(T=100), DIGITS, seed=0)
    for p in model.ema.parameters():  # the U-Net's output layer starts at zero: make it non-trivial
        p.data.add_(0.05 * torch.randn_like(p))
    x = torch.randn(4, 1, 8, 8)
    labels = torch.tensor([0, 3, 5, 9])
    cond = model.eps(x, 40, labels, guidance=1.0)
    uncond = model.eps(x, 40, None)
    torch.testing.assert_close(model.eps(x, 40, labels, guidance=0.0), uncond, atol=1e-5, rtol=1e-5)
    w = 3.0
    torch.testing.assert_close(
        model.eps(x, 40, labels, guidance=w), uncond + w * (cond - uncond), atol=1e-5, rtol=1e-4
    )
    assert not torch.allclose(cond, uncond)
    s = model.sample(4, labels, nfe=5, guidance=2.0)
    assert s.shape == (4, 1, 8, 8) and s.min() >= 0 and s.max() <= 1


def test_label_dropout_1_trains_only_the_null_label():
    model = Diffusion(small(T=100, label_dropout=1.0), DIGITS, seed=0)
    before = model.net.label.weight.detach().clone()
    for _ in range(3):  # the zero-initialised output layer passes no gradient on the first step
        model.train_step(torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,)))
    after = model.net.label.weight.detach()
    assert torch.equal(before[:10], after[:10])  # every label was dropped ...
    assert not torch.equal(before[10], after[10])  # ... to the null label


def test_training_reduces_the_loss_on_points():
    model = Diffusion(small(T=100, warmup_steps=5), RING_SPEC, seed=0)
    losses = two_blob_losses(model)
    assert sum(losses[-20:]) < sum(losses[:20])
