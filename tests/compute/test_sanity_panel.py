"""Sanity panel (issue 13): every 2-D metric threshold and verdict rule against known answers.

Exact samples must pass; uniform noise over the data box, a single-mode collapse, samples 2x and
5x too wide and the right modes with wrong weights must all fail -- on ring8 and on grid25. A
rule that lets any of these through cannot carry a verdict.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from compute import datasets, metrics

N = 2500  # the PacGAN protocol's sample count
DATASETS = ("ring8", "grid25")


def _exact(d: datasets.Dataset, g: torch.Generator) -> Tensor:
    return _mixture(d, d.mode_weights, 1.0, g)


def _mixture(d: datasets.Dataset, weights: Tensor, width: float, g: torch.Generator) -> Tensor:
    k = torch.multinomial(weights, N, replacement=True, generator=g)
    return d.modes[k] + width * d.mode_std * torch.randn(N, 2, generator=g)


def _noise(d: datasets.Dataset, g: torch.Generator) -> Tensor:
    lo, hi = d.spec.bounds
    return lo + (hi - lo) * torch.rand(N, 2, generator=g)


def _collapse(d: datasets.Dataset, g: torch.Generator) -> Tensor:
    return d.modes[0] + d.mode_std * torch.randn(N, 2, generator=g)


def _wrong_weights(d: datasets.Dataset, g: torch.Generator) -> Tensor:
    # Every 8th mode 3x as heavy, the others renormalised: every mode keeps >= 3/4 of its weight
    # (so each still counts) and the TV from the true weights is 0.175 (ring8) / 0.20 (grid25).
    # Counts fixed (not drawn) so that multinomial noise cannot push a light mode under the bar.
    w = torch.tensor([3.0 if i % 8 == 0 else 1.0 for i in range(len(d.modes))])
    counts = (N * w / w.sum()).round().long()
    k = torch.repeat_interleave(torch.arange(len(d.modes)), counts)
    k = k[torch.randperm(len(k), generator=g)]  # so that any prefix has the same (wrong) weights
    return d.modes[k] + d.mode_std * torch.randn(len(k), 2, generator=g)


BAD: dict[str, tuple[Callable[[datasets.Dataset, torch.Generator], Tensor], str]] = {
    "uniform noise over the box": (_noise, "noise"),
    "single-mode collapse": (_collapse, "collapse"),
    "2x too wide": (lambda d, g: _mixture(d, d.mode_weights, 2.0, g), "blurred"),
    "5x too wide": (lambda d, g: _mixture(d, d.mode_weights, 5.0, g), "blurred"),
    "right modes, wrong weights": (_wrong_weights, "misweighted"),
}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_samples_meet_judge_2d(name: str, seed: int) -> None:
    d = datasets.load(name)
    j = metrics.judge_2d(_exact(d, _gen(seed)), d)
    assert j.meets and j.diagnosis == "meets", j


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("case", sorted(BAD))
def test_judge_2d_rejects_each_bad_sampler_with_its_diagnosis(name: str, case: str) -> None:
    d = datasets.load(name)
    make, diagnosis = BAD[case]
    j = metrics.judge_2d(make(d, _gen(0)), d)
    assert not j.meets and j.diagnosis == diagnosis, j


@pytest.mark.parametrize("name", DATASETS)
def test_judge_2d_calls_samples_off_the_box_divergence_not_collapse(name: str) -> None:
    d = datasets.load(name)
    far = _exact(d, _gen(0)) * 100.0
    assert metrics.judge_2d(far, d).diagnosis == "divergence"
    nans = torch.full((N, 2), float("nan"))
    assert metrics.judge_2d(nans, d).diagnosis == "divergence"


@pytest.mark.parametrize("name", DATASETS)
def test_literature_columns_still_credit_noise_with_modes(name: str) -> None:
    # Why the verdict cannot use them: one stray HQ sample "captures" a mode.
    d = datasets.load(name)
    j = metrics.judge_2d(_noise(d, _gen(0)), d)
    assert j.literature_modes_captured >= 2 and j.modes_counted == 0


@pytest.mark.parametrize("name", DATASETS)
def test_benchmark_bar_passes_exact_and_rejects_every_bad_sampler(name: str) -> None:
    d = datasets.load(name)
    assert metrics.meets_mode_threshold(metrics.mode_stats(_exact(d, _gen(0)), d.modes, d.mode_std))
    for case, (make, _) in BAD.items():
        stats = metrics.mode_stats(make(d, _gen(0)), d.modes, d.mode_std)
        assert not metrics.meets_mode_threshold(stats), case


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("width", [2.0, 5.0])
def test_spread_ratio_reads_blur_at_its_true_factor(name: str, width: float) -> None:
    d = datasets.load(name)
    ratio = metrics.spread_ratio(_mixture(d, d.mode_weights, width, _gen(0)), d.modes, d.mode_std)
    assert ratio == pytest.approx(width, rel=0.06)


@pytest.mark.parametrize("name", DATASETS)
def test_mmd_default_bandwidths_score_every_bad_sampler_worse_than_exact(name: str) -> None:
    d = datasets.load(name)
    ref = d.sample(1500, _gen(99))
    exact = metrics.mmd(ref, _exact(d, _gen(0))[:1500])
    for case, (make, _) in BAD.items():
        assert metrics.mmd(ref, make(d, _gen(0))[:1500]) > exact + 5e-4, case


def test_mmd_global_bandwidths_alone_miss_the_mode_width() -> None:
    # The pre-issue-13 kernel (median distance x 1/8 .. 2): 2x blur is no worse than exact
    # samples, which is why the default now adds widths at the data's own scale.
    d = datasets.load("ring8")
    ref = d.sample(1500, _gen(99))
    med = metrics.median_distance(ref)
    old = tuple(med * f for f in (0.125, 0.25, 0.5, 1.0, 2.0))
    wide = metrics.mmd(ref, _mixture(d, d.mode_weights, 2.0, _gen(0))[:1500], old)
    new = metrics.mmd(ref, _mixture(d, d.mode_weights, 2.0, _gen(0))[:1500])
    assert wide < 5e-4 < new
