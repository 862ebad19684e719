"""AR-grid: exact normalisation by enumeration, the chain rule, the EBM view, and a short ring8 fit.

Run with ``pytest tests/compute/test_ar_grid.py -p no:django``.
"""

from __future__ import annotations

import math

import pytest
import torch

from compute import datasets, metrics
from compute.families.ar_grid import ARGrid, Config
from compute.families.base import DataSpec

torch.set_num_threads(1)

SPEC = DataSpec(kind="points2d", shape=(2,), bounds=(-3.0, 3.0))


def _model(bins: int = 16, seed: int = 0, **kw) -> ARGrid:
    return ARGrid(Config(bins=bins, hidden=32, fourier_features=4, **kw), SPEC, seed=seed)


def _perturbed(model: ARGrid, seed: int = 1) -> ARGrid:
    """Random non-zero weights everywhere, so the checks do not pass merely because the head starts at 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return model


def _cell_centres(model: ARGrid) -> torch.Tensor:
    """(B*B, 2) centres of every cell, b1 major."""
    lo, hi = model.bounds
    c = lo + (torch.arange(model.bins) + 0.5) * (hi - lo) / model.bins
    return torch.cartesian_prod(c, c)


@pytest.mark.parametrize("variant", ARGrid.variants)
def test_probability_table_sums_to_one_by_enumeration(variant: str) -> None:
    model = _perturbed(_model(variant=variant))
    with torch.no_grad():
        table = model.log_prob_table()  # (B, B)
    assert table.shape == (16, 16)
    assert torch.logsumexp(table.flatten().double(), 0).abs() < 1e-5


@pytest.mark.parametrize("variant", ARGrid.variants)
def test_density_integrates_to_one_over_the_box(variant: str) -> None:
    model = _perturbed(_model(variant=variant))
    ll = model.log_likelihood(_cell_centres(model))
    assert ll.kind == "exact"
    # Piecewise uniform: the integral is exactly sum over cells of density * cell area.
    log_mass = torch.logsumexp(ll.values.double(), 0) + model.log_bin_area
    assert abs(float(log_mass)) < 1e-5


def test_uniform_at_initialisation() -> None:
    model = _model()
    x = torch.rand(50, 2) * 6 - 3
    expected = -2 * math.log(6.0)  # uniform over the 6 x 6 box
    assert torch.allclose(model.log_likelihood(x).values, torch.full((50,), expected), atol=1e-5)


def test_chain_rule_pieces_agree() -> None:
    model = _perturbed(_model())
    b1 = torch.randint(0, 16, (40,))
    b2 = torch.randint(0, 16, (40,))
    with torch.no_grad():
        cond = model.conditionals(b1)  # (40, B)
        table = model.log_prob_table()
        joint = model.log_prob_bins(b1, b2)
    assert torch.allclose(cond.exp().sum(1), torch.ones(40), atol=1e-5)  # each conditional is normalised
    assert torch.allclose(joint, table[b1, b2], atol=1e-5)
    assert torch.allclose(joint, model.marginal()[b1] + cond.gather(1, b2[:, None]).squeeze(1), atol=1e-5)
    # log_likelihood = log P(cell) - log(cell area) at any point of the cell
    g = torch.Generator().manual_seed(0)
    x = datasets.dequantize(torch.stack([b1, b2], 1), model.bounds, model.bins, generator=g)
    assert torch.allclose(model.log_likelihood(x).values, joint - model.log_bin_area, atol=1e-5)


def test_soft_bellman_recovers_the_conditionals_from_the_energy() -> None:
    # E(b1, b2) = -log p(b1, b2). The soft value V(b1) = log sum_b2 exp(-E) is log p(b1), and
    # exp(-E - V) is p(b2 | b1): the AR factorisation is the soft-optimal policy of this energy, Z = 1.
    model = _perturbed(_model())
    with torch.no_grad():
        energy = -model.log_prob_table()
        value = torch.logsumexp(-energy, dim=1)  # (B,)
        assert torch.allclose(value, model.marginal(), atol=1e-5)
        assert torch.allclose(-energy - value[:, None], model.conditionals(torch.arange(16)), atol=1e-5)
        assert abs(float(torch.logsumexp(value, 0))) < 1e-5  # log Z = 0


def test_samples_lie_in_the_box_and_repeat_under_a_seed() -> None:
    model = _perturbed(_model())
    a = model.sample(500, seed=3)
    b = model.sample(500, seed=3)
    assert a.shape == (500, 2) and a.device.type == "cpu"
    assert torch.equal(a, b)
    assert (a >= -3).all() and (a <= 3).all()
    assert model.nfe == 2


def test_low_temperature_concentrates_samples() -> None:
    model = _perturbed(_model())
    with torch.no_grad():
        table = model.log_prob_table()
    mode = torch.tensor(divmod(int(table.flatten().argmax()), 16))
    cold = model.quantize(model.sample(400, temperature=0.05, seed=0))
    warm = model.quantize(model.sample(400, temperature=1.0, seed=0))
    hit = lambda b: (b == mode).all(1).float().mean()  # noqa: E731
    assert hit(cold) > 0.9 and hit(cold) > hit(warm)


def test_learns_ring8_modes_in_a_few_hundred_steps() -> None:
    data = datasets.load("ring8")
    model = ARGrid(Config(), data.spec, seed=0)
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        model.train_step(data.train[torch.randint(0, len(data.train), (512,), generator=g)])
    stats = metrics.mode_stats(model.sample(2500, seed=0), data.modes, data.mode_std)
    assert metrics.meets_mode_threshold(stats), stats
    # Test NLL close to the true entropy of ring8 (-2.91 nats): the 512 bins resolve std 0.02.
    nll = -model.log_likelihood(data.test).values.mean().item()
    assert nll < -2.7, nll
