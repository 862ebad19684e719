"""EBM: closed-form checks of the partition function, Langevin and DSM (compute/families/ebm.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

from compute.families.base import DataSpec
from compute.families.ebm import EBM, Config, dsm_loss, grid_log_partition, langevin

POINTS = DataSpec(kind="points2d", shape=(2,), bounds=(-4.0, 4.0))
DIGITS = DataSpec(kind="image", shape=(1, 8, 8), levels=17, num_classes=10)


def small(variant: str = "cd-persistent", **kw) -> Config:
    kw.setdefault("sgld_steps", 5)
    return Config(variant=variant, hidden=32, depth=2, buffer_size=256, grid_size=64, **kw)


def quadratic(mean: torch.Tensor, std: torch.Tensor):
    """E(x) = sum_d (x_d - m_d)^2 / (2 s_d^2): Z = prod_d sqrt(2 pi) s_d in closed form."""
    return lambda x: (((x - mean) / std) ** 2).sum(-1) / 2


class QuadraticNet(nn.Module):
    """Stands in for the energy MLP (it receives standardised coordinates u)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.mean, self.std, self.conditional = mean, std, False

    def forward(self, u: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        return quadratic(self.mean, self.std)(u)


# ---------------------------------------------------------------- the partition function


def test_grid_log_partition_matches_gaussian_normaliser():
    mean, std = torch.tensor([0.3, -0.5]), torch.tensor([0.7, 0.4])
    log_z = grid_log_partition(quadratic(mean, std), (-5.0, 5.0), 200)
    exact = math.log(2 * math.pi) + std.log().sum().item()
    assert log_z == pytest.approx(exact, abs=1e-4)


def test_ebm_log_likelihood_is_the_normalised_density():
    ebm = EBM(small(), POINTS, seed=0)
    # The box (-4, 4) maps to u in (-2, 2) (scale 2): a Gaussian of std 0.25 in u is std 0.5 in x.
    mean_u, std_u = torch.tensor([0.2, -0.3]), torch.tensor([0.25, 0.15])
    ebm.energy_net = QuadraticNet(mean_u, std_u)
    ebm.config = dataclasses.replace(ebm.config, grid_size=256)
    mean_x, std_x = mean_u * 2, std_u * 2
    exact_log_z = math.log(2 * math.pi) + std_x.log().sum().item()
    assert ebm.log_partition() == pytest.approx(exact_log_z, abs=1e-4)
    x = mean_x + std_x * torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    ll = ebm.log_likelihood(x)
    assert ll.kind == "estimate"
    expected = MultivariateNormal(mean_x, torch.diag(std_x**2)).log_prob(x)
    torch.testing.assert_close(ll.values, expected, rtol=1e-4, atol=1e-4)
    # log p = -E - log Z, with the public pieces.
    torch.testing.assert_close(ll.values, -ebm.energy(x) - ebm.log_partition(), rtol=1e-5, atol=1e-5)


def test_trained_density_integrates_to_one_on_the_box():
    ebm = EBM(small("cd-short-run"), POINTS, seed=0)
    ebm.train_step(torch.randn(64, 2))
    lo, hi = POINTS.bounds
    n = 300
    h = (hi - lo) / n
    axis = lo + h * (torch.arange(n) + 0.5)
    grid = torch.cartesian_prod(axis, axis)
    mass = ebm.log_likelihood(grid).values.exp().sum().item() * h * h
    assert mass == pytest.approx(1.0, abs=0.02)  # a coarser (64^2) grid normalised it


def test_images_have_no_likelihood():
    ebm = EBM(small(), DIGITS, seed=0)
    assert ebm.log_likelihood(torch.rand(4, 1, 8, 8)).kind == "unavailable"
    with pytest.raises(ValueError):
        ebm.log_partition()


# ---------------------------------------------------------------- Langevin and DSM


def test_langevin_samples_a_known_gaussian():
    mean, std = torch.tensor([1.0, -1.0]), torch.tensor([1.0, 0.5])
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4000, 2, generator=g) * 3
    eta = 0.01  # relaxation time s^2 / eta <= 100 steps: 800 steps forget the start
    x = langevin(quadratic(mean, std), x0, steps=800, step_size=eta, generator=g)
    torch.testing.assert_close(x.mean(0), mean, atol=0.05, rtol=0)
    # Unadjusted Langevin on a Gaussian is stationary at var 2 s^2 / (2 - eta / s^2), not s^2: O(eta) bias.
    a = eta / std**2
    expected_var = 2 * std**2 / (2 - a)
    torch.testing.assert_close(x.var(0), expected_var, rtol=0.06, atol=0)


def test_langevin_is_deterministic_and_respects_the_box():
    e = quadratic(torch.zeros(2), torch.ones(2))
    x0 = torch.zeros(50, 2)
    a = langevin(e, x0, 20, 0.5, torch.Generator().manual_seed(1), box=(-0.1, 0.1))
    b = langevin(e, x0, 20, 0.5, torch.Generator().manual_seed(1), box=(-0.1, 0.1))
    torch.testing.assert_close(a, b)
    assert a.abs().max() <= 0.1


def test_dsm_loss_is_minimised_by_the_true_score():
    # Data N(0, s^2 I) in d dims; corrupted with sigma: x~ ~ N(0, (s^2 + sigma^2) I), score -x / v.
    s, sigma, d, n = 0.8, 0.3, 2, 200_000
    g = torch.Generator().manual_seed(0)
    x, eps = s * torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    sig = torch.full((n, 1), sigma)
    v = s**2 + sigma**2

    def score(c: float):
        return lambda xt, _: -c * xt / v

    best = dsm_loss(score(1.0), x, sig, eps).item()
    # Closed-form minimum: 1/2 d s^2 / (s^2 + sigma^2) (the irreducible part of the DSM objective).
    assert best == pytest.approx(0.5 * d * s**2 / v, rel=0.01)
    for c in (0.8, 0.9, 1.1, 1.25):
        assert dsm_loss(score(c), x, sig, eps).item() > best


# ---------------------------------------------------------------- the family


@pytest.mark.parametrize("variant", EBM.variants)
@pytest.mark.parametrize("spec", [POINTS, DIGITS])
def test_train_step_sample_and_seeds(variant, spec):
    cfg = small(variant, sample_steps=3, dsm_levels=3)
    ebm = EBM(cfg, spec, seed=0)
    x = torch.rand(32, *spec.shape)
    out = ebm.train_step(x)
    assert {"loss", "energy_mean", "energy_abs_max"} <= set(out)
    assert all(math.isfinite(v) for v in out.values())
    s = ebm.sample(6, seed=2)
    assert s.shape == (6, *spec.shape) and s.device.type == "cpu"
    torch.testing.assert_close(s, ebm.sample(6, seed=2))
    lo, hi = spec.bounds or (0.0, 1.0)
    assert s.min() >= lo and s.max() <= hi
    assert ebm.nfe == 3 * (3 if variant == "dsm" else 1)


def test_persistent_chains_live_in_the_buffer():
    ebm = EBM(small("cd-persistent", reinit_prob=0.0), POINTS, seed=0)
    assert ebm.buffer is not None and ebm.buffer.shape == (256, 2)
    assert "buffer" in ebm.state_dict()
    assert EBM(small("cd-short-run"), POINTS, seed=0).buffer is None
    before = ebm.buffer.clone()
    ebm.train_step(torch.randn(64, 2))
    changed = (ebm.buffer != before).any(dim=1).sum().item()
    assert 0 < changed <= 64  # only the chains drawn this step moved


def test_cd_loss_and_energy_regulariser():
    x = torch.randn(64, 2)
    plain = EBM(small("cd-short-run", energy_l2=0.0), POINTS, seed=1).train_step(x)
    reg = EBM(small("cd-short-run", energy_l2=0.5), POINTS, seed=1).train_step(x)
    assert plain["loss"] == pytest.approx(plain["cd"], rel=1e-6)
    assert plain["cd"] == pytest.approx(plain["energy_pos"] - plain["energy_neg"], rel=1e-5, abs=1e-6)
    # Same seed: same negatives, so the loss differs by alpha * mean(E+^2 + E-^2) > 0 only.
    assert reg["cd"] == pytest.approx(plain["cd"], rel=1e-5, abs=1e-6)
    assert reg["loss"] > reg["cd"]


def test_nan_energies_are_reported_not_raised():
    ebm = EBM(small("cd-persistent"), POINTS, seed=0)
    with torch.no_grad():
        ebm.energy_net.net[0].weight.fill_(float("nan"))
    out = ebm.train_step(torch.randn(32, 2))
    assert math.isnan(out["loss"]) and math.isnan(out["energy_mean"])
    ebm.sample(4)  # no exception either


def test_dsm_training_recovers_a_gaussian():
    spec = DataSpec(kind="points2d", shape=(2,), bounds=(-4.0, 4.0))
    ebm = EBM(
        Config(variant="dsm", hidden=64, depth=2, dsm_levels=1, dsm_sigma_min=0.1, lr=3e-3, grid_size=128),
        spec,
        seed=0,
    )
    g = torch.Generator().manual_seed(0)
    mean = torch.tensor([1.0, -0.5])
    for _ in range(300):
        ebm.train_step(mean + 0.6 * torch.randn(256, 2, generator=g))
    x = mean + 0.6 * torch.randn(2000, 2, generator=g)
    # Single-noise DSM learns the data smoothed by sigma (in x units: 0.1 * scale 2 = 0.2).
    smoothed = MultivariateNormal(mean, torch.eye(2) * (0.6**2 + 0.2**2))
    kl = (smoothed.log_prob(x) - ebm.log_likelihood(x).values).mean().item()
    assert abs(kl) < 0.1
