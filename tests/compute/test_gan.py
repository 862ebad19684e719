"""GAN: closed-form checks of the losses and penalties (compute/families/gan.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from compute.families.base import DataSpec
from compute.families.gan import GAN, Config, discriminator_loss, generator_loss, gradient_penalty, r1_penalty

POINTS = DataSpec(kind="points2d", shape=(2,), bounds=(-5.0, 5.0))
DIGITS = DataSpec(kind="image", shape=(1, 8, 8), levels=17, num_classes=10)


def small(variant: str = "non-saturating", **kw) -> Config:
    return Config(variant=variant, hidden=32, depth=2, **kw)


def logit_grad(variant: str, logit: float) -> float:
    """d L_G / d l for one fake example with discriminator logit l."""
    logits = torch.tensor([logit], requires_grad=True)
    generator_loss(logits, variant).backward()
    return logits.grad.item()


def test_non_saturating_gradient_survives_where_minimax_saturates():
    # D confidently rejects the fake: D(G(z)) = sigmoid(-10) ~ 4.5e-5.
    mm, ns = logit_grad("minimax", -10.0), logit_grad("non-saturating", -10.0)
    # minimax: d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0;  non-saturating: -(1 - sigmoid(l)) -> -1.
    assert mm == pytest.approx(-torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-4)
    assert ns == pytest.approx(-1.0, abs=1e-4)
    assert abs(ns) / abs(mm) > 1e4
    # Both push the logit up (descent increases l), and at D(G(z)) = 1/2 the two gradients agree.
    assert mm < 0 and ns < 0
    assert logit_grad("minimax", 0.0) == pytest.approx(logit_grad("non-saturating", 0.0))
    # The roles swap when D is fooled (l -> +inf): there the minimax gradient is the large one.
    assert abs(logit_grad("minimax", 10.0)) > 1e4 * abs(logit_grad("non-saturating", 10.0))
    # WGAN's generator gradient is constant: -1 / B per example.
    assert logit_grad("wgan-gp", -10.0) == pytest.approx(-1.0)


def test_losses_closed_form_values():
    l_real, l_fake = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -2.0])
    # -log D(x) - log(1 - D(G(z))) with D = sigmoid.
    expected = (-torch.log(torch.sigmoid(l_real))).mean() + (-torch.log(1 - torch.sigmoid(l_fake))).mean()
    assert discriminator_loss(l_real, l_fake).item() == pytest.approx(expected.item(), rel=1e-6)
    # At D = 1/2 everywhere the discriminator loss is 2 log 2 (Goodfellow et al. 2014, theorem 1: -log 4).
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * math.log(2))
    assert generator_loss(torch.zeros(3), "minimax").item() == pytest.approx(-math.log(2))


def linear_critic(w: torch.Tensor) -> nn.Linear:
    critic = nn.Linear(len(w), 1)
    with torch.no_grad():
        critic.weight.copy_(w[None])
        critic.bias.fill_(0.3)
    return critic


def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g) + 3
    eps = torch.rand(64, 1, generator=g)
    w = torch.tensor([0.6, -0.8])  # ||w|| = 1: 1-Lipschitz with unit gradient everywhere
    critic = linear_critic(w)
    gp = gradient_penalty(lambda x: critic(x).squeeze(-1), real, fake, eps)
    assert gp.item() == pytest.approx(0.0, abs=1e-12)
    # ||w|| = 2 costs (2 - 1)^2 = 1 per example, whatever the interpolates.
    critic2 = linear_critic(2 * w)
    assert gradient_penalty(lambda x: critic2(x).squeeze(-1), real, fake, eps).item() == pytest.approx(1.0)


def test_gradient_penalty_is_differentiable_wrt_the_critic():
    critic = linear_critic(torch.tensor([3.0, 4.0]))  # ||w|| = 5: penalty (5 - 1)^2 = 16
    x = torch.randn(8, 2)
    gp = gradient_penalty(lambda u: critic(u).squeeze(-1), x, x + 1, torch.rand(8, 1))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * w / 5
    torch.testing.assert_close(critic.weight.grad[0], torch.tensor([3.0, 4.0]) * 8 / 5)


def test_r1_penalty_is_squared_gradient_norm_on_real_data():
    critic = linear_critic(torch.tensor([3.0, 4.0]))
    r1 = r1_penalty(lambda x: critic(x).squeeze(-1), torch.randn(16, 2))
    assert r1.item() == pytest.approx(25.0)


@pytest.mark.parametrize("variant", GAN.variants)
@pytest.mark.parametrize("spec", [POINTS, DIGITS])
def test_train_step_and_sample(variant, spec):
    gan = GAN(small(variant, r1_gamma=1.0), spec, seed=0)
    x = torch.rand(32, *spec.shape)
    out = gan.train_step(x)
    assert {"loss", "d_loss", "g_loss", "r1"} <= set(out)
    assert all(math.isfinite(v) for v in out.values())
    if variant == "wgan-gp":
        assert {"gp", "wasserstein"} <= set(out)
        assert gan.n_critic == 5
    else:
        assert gan.n_critic == 1
    s = gan.sample(10, seed=1)
    assert s.shape == (10, *spec.shape) and s.device.type == "cpu"
    torch.testing.assert_close(s, gan.sample(10, seed=1))
    if spec.kind == "image":
        assert s.min() >= 0 and s.max() <= 1
    assert gan.log_likelihood(x).kind == "unavailable"
    assert gan.log_likelihood(x).values is None
    assert gan.nfe == 1


def test_same_seed_same_training():
    x = torch.randn(64, 2)
    a, b = GAN(small("wgan-gp"), POINTS, seed=4), GAN(small("wgan-gp"), POINTS, seed=4)
    for _ in range(3):
        assert a.train_step(x) == b.train_step(x)
    torch.testing.assert_close(a.sample(20), b.sample(20))
    torch.testing.assert_close(a.sample(20, raw=True), b.sample(20, raw=True))


def test_ema_generator_tracks_the_trained_one():
    gan = GAN(small(ema=0.5), POINTS, seed=0)
    before = [p.clone() for p in gan.generator_ema.parameters()]
    gan.train_step(torch.randn(64, 2))
    after, trained = gan.generator_ema.parameters(), gan.generator_net.parameters()
    for p0, p_ema, p in zip(before, after, trained, strict=True):
        torch.testing.assert_close(p_ema, 0.5 * p0 + 0.5 * p)
    off = GAN(small(ema=0.0), POINTS, seed=0)
    torch.testing.assert_close(off.sample(5, seed=0), off.sample(5, seed=0, raw=True))


@pytest.mark.parametrize("variant", ["non-saturating", "wgan-gp"])
def test_generator_moves_towards_the_data(variant):
    gan = GAN(small(variant, ema=0.0), POINTS, seed=0)
    g = torch.Generator().manual_seed(0)
    target = torch.tensor([2.0, -1.0])
    start = (gan.sample(500, seed=0).mean(0) - target).norm().item()
    for _ in range(100):
        gan.train_step(target + 0.2 * torch.randn(128, 2, generator=g))
    end = (gan.sample(500, seed=0).mean(0) - target).norm().item()
    assert end < 0.3 * start
