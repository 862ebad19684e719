"""Flow matching: closed-form checks of the path, the parameterisation, the ODE samplers and the
change-of-variables likelihood (compute/families/flow_matching.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from compute.families.flow_matching import Config, FlowMatching, linear_path, sample_times, time_grid
from tests.compute.denoisers import DIGITS, POINTS, RING_SPEC, small_config, two_blob_losses


def small(**kw) -> Config:
    return small_config(Config, **kw)


# ---------------------------------------------------------------- the path and its target


def test_linear_path_target_is_x1_minus_x0_and_the_time_derivative():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
    t = torch.rand(64, generator=g)
    xt, u = linear_path(x0, x1, t, sigma_min=0.0)
    torch.testing.assert_close(u, x1 - x0)
    torch.testing.assert_close(xt, (1 - t[:, None]) * x0 + t[:, None] * x1)
    torch.testing.assert_close(linear_path(x0, x1, torch.zeros(64), 0.0)[0], x0)
    torch.testing.assert_close(linear_path(x0, x1, torch.ones(64), 0.0)[0], x1)
    # with sigma_min the target is still d x_t / dt, and x_1 keeps sigma_min x0 of noise
    s, h = 0.1, 1e-3
    xa, u = linear_path(x0.double(), x1.double(), t.double(), s)
    xb, _ = linear_path(x0.double(), x1.double(), t.double() + h, s)
    torch.testing.assert_close((xb - xa) / h, u)
    torch.testing.assert_close(linear_path(x0, x1, torch.ones(64), s)[0], x1 + s * x0)


def test_data_prediction_of_the_endpoint_gives_the_path_velocity():
    model = FlowMatching(small(prediction="data", sigma_min=0.01), POINTS, seed=0)
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g)
    t = 0.9 * torch.rand(32, generator=g)  # below the 1 - 0.05 floor
    xt, u = linear_path(x0, x1, t, 0.01)
    torch.testing.assert_close(model._to_velocity(x1, xt, t), u, atol=1e-5, rtol=1e-5)


def test_variant_defaults_and_time_sampling():
    assert Config(variant="cfm").sigma == 1e-3
    assert Config(variant="rectified").sigma == 0.0
    assert Config(variant="rectified", sigma_min=0.2).sigma == 0.2
    with pytest.raises(ValueError):
        Config(variant="nope")
    g = torch.Generator().manual_seed(0)
    t = sample_times(20000, "mixed", g)
    assert t.min() >= 0 and t.max() < 1
    assert (t > 0.99).float().mean() > 0.05  # uniform would give 0.01
    grid = time_grid(10, "quadratic")
    assert grid[0] == 0 and grid[-1] == 1 and torch.all(grid[1:] > grid[:-1])
    assert grid[-1] - grid[-2] < grid[1] - grid[0]  # finer near the data


# ---------------------------------------------------------------- an exact velocity for Gaussian data


class GaussianVelocity(nn.Module):
    """E[x1 - x0 | x_t] for x0 ~ N(0, I), x1 ~ N(m, s^2 I), x_t = (1 - t) x0 + t x1 (sigma_min = 0).

    V = (1 - t)^2 + t^2 s^2,  v = m + (t s^2 - (1 - t)) / V (x - t m).
    """

    def __init__(self, m: torch.Tensor, s: float):
        super().__init__()
        self.m, self.s2 = m, s**2

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        t = t[:, None].to(x)
        var = (1 - t) ** 2 + t**2 * self.s2
        return self.m.to(x) + (t * self.s2 - (1 - t)) / var * (x - t * self.m.to(x))


def oracle_model(**kw) -> tuple[FlowMatching, torch.Tensor, float]:
    m, s = torch.tensor([0.5, -0.3]), 0.7
    model = FlowMatching(small(variant="rectified", prediction="velocity", **kw), POINTS, seed=0)
    model.ema = GaussianVelocity(m, s)
    return model, m, s


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_ode_samplers_push_noise_to_the_gaussian(sampler: str):
    model, m, s = oracle_model()
    x = model.sample(4000, sampler=sampler, nfe=100, seed=0)
    torch.testing.assert_close(x.mean(0), m, atol=0.04, rtol=0)
    torch.testing.assert_close(x.std(0), torch.full((2,), s), atol=0.03, rtol=0)


def test_heun_is_more_accurate_than_euler_at_equal_nfe():
    model, m, s = oracle_model()
    z = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    exact = m + s * z  # the flow of this Gaussian path is the affine map x0 -> m + s x0
    errs = {}
    for sampler in ("euler", "heun"):
        x = model.integrate(z, None, 8, sampler, 1.0, "uniform")
        errs[sampler] = (x - exact).abs().max().item()
    assert errs["heun"] < errs["euler"] / 3


def test_change_of_variables_recovers_the_gaussian_log_density():
    model, m, s = oracle_model(likelihood_nfe=200)
    x = m + s * torch.randn(256, 2, generator=torch.Generator().manual_seed(2))
    ll = model.log_likelihood(x)
    assert ll.kind == "estimate"
    true = torch.distributions.Normal(m, s).log_prob(x).sum(1)
    torch.testing.assert_close(ll.values, true, atol=0.02, rtol=0)


def test_exact_divergence_equals_the_jacobian_trace_and_hutchinson_is_unbiased():
    model = FlowMatching(small(), RING_SPEC, seed=0)
    for p in model.ema.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    x = torch.randn(5, 2)
    _, div = model._divergence(x, 0.3, None, None)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda y: model.velocity(y[None], 0.3)[0], x[i])
        assert div[i].item() == pytest.approx(jac.trace().item(), rel=1e-4, abs=1e-4)
    g = torch.Generator().manual_seed(0)
    estimates = []
    for _ in range(2000):
        probe = torch.randint(0, 2, (5, 2), generator=g) * 2.0 - 1.0
        estimates.append(model._divergence(x, 0.3, None, probe)[1])
    torch.testing.assert_close(torch.stack(estimates).mean(0), div, atol=0.1 * div.abs().max().item(), rtol=0)


# ---------------------------------------------------------------- images, guidance, reflow, seeds


def test_digits_samples_are_on_the_levels_and_guidance_is_linear():
    model = FlowMatching(small(), DIGITS, seed=0)
    for p in model.ema.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    labels = torch.tensor([1, 2, 3, 4])
    x = model.sample(4, labels, nfe=4, guidance=2.0)
    assert x.shape == (4, 1, 8, 8)
    torch.testing.assert_close(x * 16, torch.round(x * 16))
    z, t = torch.randn(4, 1, 8, 8), torch.full((4,), 0.5)
    cond, uncond = model.velocity(z, t, labels), model.velocity(z, t, None)
    torch.testing.assert_close(
        model.velocity(z, t, labels, guidance=3.0), uncond + 3 * (cond - uncond), atol=1e-4, rtol=1e-4
    )
    ll = model.log_likelihood(torch.rand(3, 1, 8, 8), nfe=4)
    assert ll.kind == "estimate" and ll.values.shape == (3,) and torch.isfinite(ll.values).all()


def test_reflow_switches_training_to_the_models_own_couplings():
    cfg = small(variant="rectified", reflow_at_step=3, reflow_pairs=64, reflow_nfe=4)
    model = FlowMatching(cfg, RING_SPEC)
    x = torch.randn(16, 2)
    for _ in range(3):
        model.train_step(x)
    assert model._pairs is None
    model.train_step(x)  # step 3: simulate the couplings, then train on them
    x0, x1, labels = model._pairs
    assert x0.shape == x1.shape == (64, 2) and labels is None
    model.reflow(32, nfe=4)  # by hand: x1 is the EMA model's ODE image of x0
    x0, x1, _ = model._pairs
    torch.testing.assert_close(x1, model.integrate(x0, None, 4, "heun", 1.0), atol=1e-5, rtol=1e-5)


def test_same_seed_same_samples_and_nfe_counts_evaluations():
    model = FlowMatching(small(sample_nfe=10), RING_SPEC, seed=0)
    assert torch.equal(model.sample(8, seed=1), model.sample(8, seed=1))
    assert model.nfe == 10
    assert FlowMatching(small(sample_nfe=10, sampler="euler"), RING_SPEC).nfe == 10
    assert FlowMatching(small(sample_nfe=10, guidance=2.0), DIGITS).nfe == 20


def test_training_reduces_the_loss_and_log_det_converts_to_x():
    model = FlowMatching(small(warmup_steps=5), RING_SPEC, seed=0)
    losses = two_blob_losses(model)
    assert sum(losses[-20:]) < sum(losses[:20])
    assert model.log_det == pytest.approx(-2 * math.log(1.5 * 2.0))  # z = x / (1.5 * data_scale 2)
