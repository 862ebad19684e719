"""Datasets: shapes, determinism, true densities, digits split, text corpus, quantisation."""

from __future__ import annotations

import math

import pytest
import torch

from compute import datasets
from compute.metrics import grid_log_mass

POINTS2D = list(datasets.POINTS2D)


@pytest.mark.parametrize("name", POINTS2D)
def test_2d_sets_have_shapes_bounds_and_fresh_draws(name: str) -> None:
    d = datasets.load(name)
    assert d.spec.kind == "points2d" and d.spec.shape == (2,)
    assert d.train.shape == (datasets.N_TRAIN_2D, 2) and d.test.shape == (datasets.N_TEST_2D, 2)
    lo, hi = d.spec.bounds
    inside = ((d.train >= lo) & (d.train <= hi)).all(dim=1).float().mean()
    assert inside > 0.999, f"{name}: only {inside:.4f} of the mass inside the bounds"
    a = d.sample(100, torch.Generator().manual_seed(1))
    b = d.sample(100, torch.Generator().manual_seed(1))
    c = d.sample(100, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_load_is_deterministic_per_seed() -> None:
    assert torch.equal(datasets.load("moons", seed=0).train, datasets._BUILDERS["moons"](0).train)
    assert not torch.equal(datasets.load("moons", seed=0).train, datasets.load("moons", seed=1).train)


@pytest.mark.parametrize("name", ["ring8", "grid25", "checkerboard"])
def test_closed_form_densities_integrate_to_one(name: str) -> None:
    d = datasets.load(name)
    log_mass = grid_log_mass(d.spec.true_log_density, d.spec.bounds, n=400)
    assert abs(log_mass) < 1e-3, f"{name}: log of the integral is {log_mass}"


def test_mixture_modes_and_weights() -> None:
    ring = datasets.load("ring8")
    assert ring.modes.shape == (8, 2) and ring.mode_std == 0.02
    assert torch.allclose(ring.modes.norm(dim=1), torch.full((8,), 2.0))
    grid = datasets.load("grid25")
    assert grid.modes.shape == (25, 2) and grid.mode_std == 0.05
    assert torch.allclose(grid.mode_weights.sum(), torch.tensor(1.0))


def test_checkerboard_density_is_uniform_on_black_cells() -> None:
    d = datasets.load("checkerboard")
    logp = d.spec.true_log_density(d.test)
    assert torch.allclose(logp, torch.full_like(logp, -math.log(32.0)))
    white = torch.tensor([[1.0, -1.0], [-3.0, -1.0]])  # cells the sampler never fills
    assert torch.isinf(d.spec.true_log_density(white)).all()
    assert torch.isinf(d.spec.true_log_density(torch.tensor([[5.0, 0.0]]))).all()


def test_digits_split_and_scale() -> None:
    d = datasets.load("digits")
    assert d.train.shape == (1437, 1, 8, 8) and d.test.shape == (360, 1, 8, 8)
    assert d.spec.levels == 17 and d.spec.num_classes == 10
    assert float(d.train.min()) == 0.0 and float(d.train.max()) == 1.0
    levels = torch.unique(d.train * 16)
    assert torch.allclose(levels, levels.round()) and len(levels) == 17
    assert torch.bincount(d.test_labels).min() >= 35  # stratified: ~36 per class


def test_text_corpus_from_a_folder(tmp_path, monkeypatch) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.md").write_text("alpha beta gamma. " * 100)
    (tmp_path / "b" / "c.md").write_text("delta epsilon! " * 100)
    (tmp_path / "ignored.txt").write_text("zzz")
    monkeypatch.setenv("ATLAS_CONTENT_DIR", str(tmp_path))
    d = datasets.load("text")
    assert d.spec.kind == "tokens" and d.spec.shape == (datasets.TEXT_SEQ_LEN,)
    assert d.spec.vocab_size == len(d.itos) and "z" not in d.stoi
    assert d.train.dtype == torch.long and d.train.shape[1] == datasets.TEXT_SEQ_LEN
    assert int(d.train.max()) < d.spec.vocab_size
    assert d.decode(d.train[0]).startswith("alpha beta")  # sorted file order: a.md first
    assert torch.equal(d.train, datasets.load("text").train)


def test_text_corpus_too_small_is_a_clear_error(tmp_path, monkeypatch) -> None:
    (tmp_path / "a.md").write_text("tiny")
    monkeypatch.setenv("ATLAS_CONTENT_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="at least 2000"):
        datasets.load("text")


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="ring8"):
        datasets.load("mnist")


def test_quantize_dequantize_round_trip() -> None:
    bounds, bins = (-3.0, 3.0), 64
    x = datasets.load("ring8").test[:1000]
    idx = datasets.quantize(x, bounds, bins)
    assert idx.dtype == torch.long and int(idx.min()) >= 0 and int(idx.max()) < bins
    centres = datasets.dequantize(idx, bounds, bins)
    width = (bounds[1] - bounds[0]) / bins
    assert (centres - x).abs().max() <= width / 2 + 1e-5
    assert torch.equal(datasets.quantize(centres, bounds, bins), idx)
    jitter = datasets.dequantize(idx, bounds, bins, generator=torch.Generator().manual_seed(0))
    assert torch.equal(datasets.quantize(jitter, bounds, bins), idx)
    assert datasets.quantize(torch.tensor([[-10.0, 10.0]]), bounds, bins).tolist() == [[0, bins - 1]]
    assert math.isclose(datasets.bin_log_volume(bounds, bins), 2 * math.log(width))
