"""MADE: the autoregressive property of the masks, exact normalisation by enumeration, and a short fit.

Run with ``pytest tests/compute/test_made.py -p no:django``.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from compute import datasets
from compute.families.base import DataSpec
from compute.families.made import MADE, Config

torch.set_num_threads(1)

DIGITS = DataSpec(kind="image", shape=(1, 8, 8), levels=17, num_classes=10)
TINY = DataSpec(kind="image", shape=(1, 1, 3), levels=3, num_classes=2)  # 3^3 = 27 images: enumerable


def _made(spec: DataSpec = DIGITS, **kw) -> MADE:
    cfg = {"hidden": 64, "num_masks": 4, "eval_masks": 4, **kw}
    model = MADE(Config(**cfg), spec, seed=0)
    model.eval()
    return model


def _random_images(n: int, spec: DataSpec, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    levels = torch.randint(0, spec.levels, (n, *spec.shape), generator=g)
    return levels.float() / (spec.levels - 1)


@pytest.mark.parametrize("one_hot", [False, True])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_output_d_depends_only_on_earlier_pixels(one_hot: bool, k: int) -> None:
    model = _made(one_hot_input=one_hot, layers=2)
    net = model.net
    masks = net.masks(k)
    order, _ = net.degrees(k)  # order[d] = position of pixel d, 1..64
    levels = model.to_levels(_random_images(4, DIGITS))
    seen = torch.zeros(64, dtype=torch.bool)
    with torch.no_grad():
        base = net(levels, masks)  # (4, 64, 17)
        for j in range(64):  # change pixel j; only pixels after j in the ordering may move
            changed = levels.clone()
            changed[:, j] = (changed[:, j] + 7) % 17
            moved = (net(changed, masks) - base).abs().amax(dim=(0, 2)) > 1e-6  # (64,)
            assert not moved[order <= order[j]].any(), f"mask {k}: pixel {j} leaks into earlier outputs"
            seen |= moved
    # ... and it is not trivially disconnected: every pixel but the first in the ordering sees something.
    assert seen[order > 1].all()


def test_mask_jacobian_is_strictly_triangular_in_the_ordering() -> None:
    # d logits_i / d input_j through the masks only (no ReLU gating at a random point):
    # build the connectivity matrix M = mask_out @ ... @ mask_in and check M[i, j] = 0 unless o(j) < o(i).
    model = _made(layers=3, hidden=128)
    for k in range(4):
        masks = model.net.masks(k)
        conn = masks[0]
        for m in masks[1:-2]:
            conn = m @ conn
        conn = masks[-2] @ conn + masks[-1]  # (D*L, D) with the direct connections
        conn = conn.view(64, 17, 64).amax(1) > 0  # (64 outputs, 64 inputs)
        order, _ = model.net.degrees(k)
        allowed = order[None, :] < order[:, None]
        assert not (conn & ~allowed).any()
        assert conn.sum() > 0.5 * allowed.sum()  # most allowed paths exist


@pytest.mark.parametrize(
    "kw", [{}, {"one_hot_input": True}, {"conditional": True}, {"variant": "natural"}, {"direct": False}]
)
def test_probabilities_sum_to_one_over_every_image(kw: dict) -> None:
    model = _made(TINY, **kw)
    with torch.no_grad():  # random non-zero weights so the check is not about the initialisation
        for p in model.net.parameters():
            p.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(p.numel()))
    every = torch.tensor(list(itertools.product(range(3), repeat=3))).float().view(27, 1, 1, 3) / 2
    ll = model.log_likelihood(every)  # the K-mask mixture (and the class-marginal when conditional)
    assert ll.kind == "exact"
    assert abs(float(torch.logsumexp(ll.values.double(), 0))) < 1e-5
    if kw.get("conditional"):
        for c in range(2):
            llc = model.log_likelihood(every, labels=torch.full((27,), c))
            assert abs(float(torch.logsumexp(llc.values.double(), 0))) < 1e-5
    labels = torch.zeros(27, dtype=torch.long) if model.C else None
    for k in range(model.K):  # each mixture component is normalised too
        with torch.no_grad():
            lk = model.log_prob_mask(model.to_levels(every), k, labels)
        assert abs(float(torch.logsumexp(lk.double(), 0))) < 1e-5


def test_per_pixel_distributions_over_17_levels_sum_to_one() -> None:
    model = _made()
    levels = model.to_levels(_random_images(8, DIGITS))
    with torch.no_grad():
        probs = torch.softmax(model.net(levels, model.net.masks(2)), dim=-1)
    assert probs.shape == (8, 64, 17)
    assert torch.allclose(probs.sum(-1), torch.ones(8, 64), atol=1e-5)


def test_zero_output_layer_is_uniform_at_log_17_per_pixel() -> None:
    model = _made()
    with torch.no_grad():
        model.net.out.weight.zero_()
        model.net.out.bias.zero_()
        model.net.direct.weight.zero_()
    ll = model.log_likelihood(_random_images(5, DIGITS))
    assert torch.allclose(ll.values, torch.full((5,), -64 * math.log(17)), atol=1e-3)
    bpd = model.bits_per_dim(_random_images(5, DIGITS))
    assert abs(bpd - math.log2(17)) < 1e-4


def test_samples_are_on_the_level_grid_and_repeat_under_a_seed() -> None:
    model = _made(conditional=True)
    a = model.sample(6, seed=1)
    b = model.sample(6, seed=1)
    assert a.shape == (6, 1, 8, 8) and a.device.type == "cpu"
    assert torch.equal(a, b)
    assert torch.equal(a * 16, (a * 16).round()) and a.min() >= 0 and a.max() <= 1
    assert model.sample(3, labels=torch.tensor([0, 1, 2]), seed=0).shape == (3, 1, 8, 8)
    assert model.nfe == 64


def test_state_dict_carries_the_masks() -> None:
    a = MADE(Config(hidden=64, num_masks=4, eval_masks=4), DIGITS, seed=0)
    b = MADE(Config(hidden=64, num_masks=4, eval_masks=4), DIGITS, seed=7)  # other weights and masks
    b.load_state_dict(a.state_dict())
    x = _random_images(4, DIGITS)
    assert torch.allclose(a.log_likelihood(x).values, b.log_likelihood(x).values)


def test_short_fit_beats_the_uniform_model_on_test_digits() -> None:
    data = datasets.load("digits")
    model = MADE(Config(hidden=256, num_masks=8, eval_masks=8), data.spec, seed=0)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(0, len(data.train), (128,), generator=g)
        model.train_step(data.train[idx], data.train_labels[idx])
    bpd = model.bits_per_dim(data.test)
    assert bpd < 2.8, bpd  # uniform is log2(17) = 4.09; a per-pixel histogram about 2.4
