"""RealNVP: the coupling log-determinant, invertibility and normalisation (compute/families/realnvp.py)."""

from __future__ import annotations

import math

import pytest
import torch

from compute.families.base import DataSpec
from compute.families.realnvp import Config, RealNVP

RING_SPEC = DataSpec(kind="points2d", shape=(2,), bounds=(-3.0, 3.0))
DIGITS = DataSpec(kind="image", shape=(1, 8, 8), levels=17, num_classes=10)


def perturbed(variant: str, spec: DataSpec, **kw) -> RealNVP:
    """A flow with random (not identity) couplings: the zero-initialised output layers get noise."""
    model = RealNVP(Config(variant=variant, hidden=32, channels=8, couplings=4, **kw), spec, seed=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model.double()


@pytest.mark.parametrize("variant", ["affine", "additive"])
@pytest.mark.parametrize("spec", [RING_SPEC, DIGITS], ids=["points2d", "image"])
def test_log_det_equals_the_brute_force_jacobian(variant: str, spec: DataSpec):
    model = perturbed(variant, spec)
    z = torch.randn(3, *spec.shape, dtype=torch.float64)
    _, log_det = model.flow(z)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda v: model.flow(v[None])[0][0], z[i])
        jac = jac.reshape(spec.dim, spec.dim)
        assert log_det[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)
    if variant == "additive":  # volume changes only through the final diagonal scaling
        torch.testing.assert_close(log_det, model.log_diag.sum().expand(3))


@pytest.mark.parametrize("spec", [RING_SPEC, DIGITS], ids=["points2d", "image"])
def test_inverse_undoes_the_flow(spec: DataSpec):
    model = perturbed("affine", spec)
    z = torch.randn(16, *spec.shape, dtype=torch.float64)
    u, _ = model.flow(z)
    torch.testing.assert_close(model.inverse(u), z)


def test_exact_density_integrates_to_one_on_a_grid():
    model = perturbed("affine", RING_SPEC).float()
    # midpoint rule on [-12, 12]^2: wide enough for the whole mass of this random flow
    n, lo, hi = 600, -12.0, 12.0
    h = (hi - lo) / n
    axis = lo + h * (torch.arange(n) + 0.5)
    grid = torch.cartesian_prod(axis, axis)
    ll = model.log_likelihood(grid)
    assert ll.kind == "exact"
    mass = torch.logsumexp(ll.values.double(), 0).exp().item() * h * h
    assert mass == pytest.approx(1.0, abs=0.01)


def test_images_report_a_bound_on_discrete_levels_and_sample_on_the_levels():
    model = RealNVP(Config(channels=8, couplings=2), DIGITS, seed=0)
    x = torch.randint(0, 17, (8, 1, 8, 8)).float() / 16
    ll = model.log_likelihood(x)
    assert ll.kind == "mc-bound" and ll.values.shape == (8,)
    torch.testing.assert_close(ll.values, model.log_likelihood(x).values)  # fixed dequantisation seed
    # untrained: identity couplings and log_diag = 0, so log p is the logit-normal density of the
    # dequantised y = (k + u) / 17 minus the bin volume, with u from the fixed seed (seed + 1)
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))
    p = 0.05 + 0.9 * (torch.round(x * 16) + u) / 17
    w = torch.log(p) - torch.log1p(-p)
    per_pixel = -0.5 * w**2 - 0.5 * math.log(2 * math.pi) + math.log(0.9) - torch.log(p) - torch.log1p(-p)
    expected = per_pixel.reshape(8, -1).sum(1) - 64 * math.log(17)
    torch.testing.assert_close(ll.values, expected, atol=1e-3, rtol=1e-5)
    s = model.sample(5)
    assert s.shape == (5, 1, 8, 8)
    torch.testing.assert_close(s * 16, torch.round(s * 16))
    assert s.min() >= 0 and s.max() <= 1


def test_points2d_density_is_reported_in_x():
    model = perturbed("affine", RING_SPEC)
    x = torch.randn(4, 2, dtype=torch.float64)
    z = x / 1.5  # the bounds box (-3, 3) maps to [-2, 2]
    u, log_det = model.flow(z)
    expected = (-0.5 * u**2 - 0.5 * math.log(2 * math.pi)).sum(1) + log_det - 2 * math.log(1.5)
    torch.testing.assert_close(model._log_prob(x), expected)


def test_training_raises_the_likelihood_and_same_seed_same_samples():
    model = RealNVP(Config(hidden=32, couplings=4), RING_SPEC, seed=0)
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[1.5, 0.0], [-1.5, 0.0]])
    losses = []
    for _ in range(200):
        x = centres[torch.randint(0, 2, (128,), generator=g)] + 0.3 * torch.randn(128, 2, generator=g)
        losses.append(model.train_step(x)["loss"])
    assert sum(losses[-20:]) < sum(losses[:20])
    assert torch.equal(model.sample(8, seed=3), model.sample(8, seed=3))
    assert model.nfe == 1
