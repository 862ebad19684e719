"""Datasets: 2-D toys with true densities, scikit-learn's 8x8 digits, and our own text corpus.

Nothing is downloaded: the 2-D sets are generated in code, the digits ship inside scikit-learn,
and the text is the Markdown under ``content/`` of this repository.

2-D sets (all ``DataSpec(kind="points2d", shape=(2,))``):
- ``ring8``  8 Gaussians on a circle of radius 2, std 0.02 (Srivastava et al. 2017, VEEGAN;
  Lin et al. 2018, PacGAN; scale as in Gulrajani et al. 2017, WGAN-GP toy code).
- ``grid25`` 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (PacGAN / VEEGAN grid).
- ``moons``, ``swissroll``, ``checkerboard``, ``pinwheel`` as in the FFJORD toy code
  (Grathwohl et al. 2019, ``lib/toy_data.py``), which also fixes their scale (inside about [-4, 4]).
``spec.true_log_density`` exists where it has a closed form (the two mixtures; checkerboard is
piecewise uniform) and ``spec.bounds`` is a square holding essentially all of the mass.
"""

from __future__ import annotations

import functools
import math
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from compute.families.base import DataSpec

N_TRAIN_2D = 20_000
N_TEST_2D = 5_000
TEXT_SEQ_LEN = 64
TEXT_MIN_CHARS = 2_000
REPO_ROOT = Path(__file__).resolve().parent.parent

Sampler = Callable[[int, torch.Generator], Tensor]  # (n, generator) -> (n, 2) float32


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset. Tensors live on CPU; the trainer moves batches to the device.

    ``train``/``test``: (N, 2) float for 2-D, (N, 1, 8, 8) float in [0, 1] for digits, (N, seq_len)
    long for text. 2-D mixtures also carry ``modes`` (K, 2), ``mode_std`` and ``mode_weights`` (K,).
    """

    name: str
    spec: DataSpec
    train: Tensor
    test: Tensor
    train_labels: Tensor | None = None
    test_labels: Tensor | None = None
    modes: Tensor | None = None
    mode_std: float | None = None
    mode_weights: Tensor | None = None
    itos: tuple[str, ...] | None = None  # text: token id -> character
    stoi: dict[str, int] | None = field(default=None, compare=False)  # text: character -> token id
    sampler: Sampler | None = field(default=None, repr=False, compare=False)

    @property
    def can_sample(self) -> bool:
        """True for the 2-D sets, which can draw fresh examples instead of reusing ``train``."""
        return self.sampler is not None

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n fresh draws (n, 2) from the true distribution (2-D sets only)."""
        if self.sampler is None:
            raise TypeError(f"dataset {self.name!r} has no sampler; use its train/test tensors")
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        return self.sampler(n, generator)

    def decode(self, tokens: Tensor) -> str:
        """Token ids (seq_len,) -> text (text dataset only)."""
        if self.itos is None:
            raise TypeError(f"dataset {self.name!r} is not a token dataset")
        return "".join(self.itos[int(t)] for t in tokens)


# --------------------------------------------------------------------------------------------
# 2-D samplers. Each takes (n, generator) and returns (n, 2) float32, drawn with torch only so
# that one torch.Generator fixes the whole draw.


def _gaussian_mixture_sampler(means: Tensor, std: float, weights: Tensor) -> Sampler:
    def sample(n: int, g: torch.Generator) -> Tensor:
        k = torch.multinomial(weights, n, replacement=True, generator=g)  # (n,)
        return means[k] + std * torch.randn(n, 2, generator=g)

    return sample


def _gaussian_mixture_log_density(means: Tensor, std: float, weights: Tensor) -> Callable[[Tensor], Tensor]:
    """log p(x) = logsumexp_k [log w_k + log N(x; mu_k, std^2 I)] for x (N, 2)."""
    log_w = weights.log()

    def log_density(x: Tensor) -> Tensor:
        x = x.to(torch.float64)
        d2 = torch.cdist(x, means.to(torch.float64)).pow(2)  # (N, K)
        log_n = -0.5 * d2 / std**2 - math.log(2 * math.pi * std**2)
        return torch.logsumexp(log_n + log_w.to(torch.float64), dim=1).to(torch.float32)

    return log_density


def ring8_modes(radius: float = 2.0) -> Tensor:
    """(8, 2) means on a circle, starting at angle 0."""
    angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def grid25_modes() -> Tensor:
    """(25, 2) means at {-4,-2,0,2,4}^2."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(axis, axis)


def _moons(n: int, g: torch.Generator) -> Tensor:
    # sklearn.make_moons(noise=0.1) with a uniform angle instead of a linspace, then FFJORD's
    # affine map x * 2 + (-1, -0.2).
    t = math.pi * torch.rand(n, generator=g)
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 1 - t.sin() - 0.5)
    pts = torch.stack([x, y], dim=1) + 0.1 * torch.randn(n, 2, generator=g)
    return pts * 2 + torch.tensor([-1.0, -0.2])


def _swissroll(n: int, g: torch.Generator) -> Tensor:
    # sklearn.make_swiss_roll(noise=1.0) keeping the (x, z) plane, divided by 5 as in FFJORD.
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
    pts = torch.stack([t * t.cos(), t * t.sin()], dim=1) + torch.randn(n, 2, generator=g)
    return pts / 5


def _checkerboard(n: int, g: torch.Generator) -> Tensor:
    # FFJORD: x1 ~ U[-2, 2); x2 in one of the two unit cells of the column that are "black", x2.
    x1 = 4 * torch.rand(n, generator=g) - 2
    x2 = torch.rand(n, generator=g) - 2 * torch.randint(0, 2, (n,), generator=g).float()
    x2 = x2 + torch.floor(x1).remainder(2)
    return torch.stack([x1, x2], dim=1) * 2


def _checkerboard_log_density(x: Tensor) -> Tensor:
    """Uniform on 8 black cells of side 2 in [-4, 4]^2: density 1/32 there, 0 elsewhere."""
    u = x / 2  # back to the unit-cell coordinates of the sampler
    inside = (u.abs() < 2).all(dim=1)
    black = (torch.floor(u[:, 0]) + torch.floor(u[:, 1])).remainder(2) == 0
    out = torch.full((x.shape[0],), -math.inf, dtype=torch.float32)
    out[inside & black] = -math.log(32.0)
    return out


def _pinwheel(n: int, g: torch.Generator) -> Tensor:
    # FFJORD / Johnson et al. 2016 (SVAE): 5 arms, radial std 0.3, tangential std 0.1, rate 0.25.
    arm = torch.randint(0, 5, (n,), generator=g)
    feats = torch.randn(n, 2, generator=g) * torch.tensor([0.3, 0.1])
    feats[:, 0] += 1.0
    angles = arm.float() * (2 * math.pi / 5) + 0.25 * feats[:, 0].exp()
    c, s = angles.cos(), angles.sin()
    # einsum("ti,tij->tj") with rotation [[c, -s], [s, c]]
    x = feats[:, 0] * c + feats[:, 1] * s
    y = -feats[:, 0] * s + feats[:, 1] * c
    return 2 * torch.stack([x, y], dim=1)


def _points2d(
    name: str,
    seed: int,
    sampler: Sampler,
    bounds: tuple[float, float],
    log_density: Callable[[Tensor], Tensor] | None = None,
    modes: Tensor | None = None,
    mode_std: float | None = None,
    mode_weights: Tensor | None = None,
) -> Dataset:
    g = torch.Generator().manual_seed(_seed_for(name, seed))
    train = sampler(N_TRAIN_2D, g)
    test = sampler(N_TEST_2D, g)
    spec = DataSpec(kind="points2d", shape=(2,), true_log_density=log_density, bounds=bounds)
    return Dataset(
        name=name,
        spec=spec,
        train=train,
        test=test,
        modes=modes,
        mode_std=mode_std,
        mode_weights=mode_weights,
        sampler=sampler,
    )


def _mixture(name: str, seed: int, means: Tensor, std: float, bounds: tuple[float, float]) -> Dataset:
    weights = torch.full((means.shape[0],), 1.0 / means.shape[0])
    return _points2d(
        name,
        seed,
        _gaussian_mixture_sampler(means, std, weights),
        bounds,
        _gaussian_mixture_log_density(means, std, weights),
        modes=means,
        mode_std=std,
        mode_weights=weights,
    )


def _seed_for(name: str, seed: int) -> int:
    # Different datasets get unrelated streams for the same user seed; crc32 is stable across runs.
    return (zlib.crc32(name.encode()) + 1_000_003 * seed) % (2**63)


# --------------------------------------------------------------------------------------------
# Digits and text.


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = torch.from_numpy(data.images.astype(np.float32) / 16.0).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    y = torch.from_numpy(data.target.astype(np.int64))  # (1797,)
    # The split is fixed (not seeded by the user seed) so test numbers are comparable across runs.
    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=360, random_state=0, stratify=data.target
    )
    spec = DataSpec(kind="image", shape=(1, 8, 8), levels=17, num_classes=10, bounds=(0.0, 1.0))
    return Dataset(
        name="digits",
        spec=spec,
        train=x[idx_train],
        test=x[idx_test],
        train_labels=y[idx_train],
        test_labels=y[idx_test],
    )


def content_dir() -> Path:
    """Where the text corpus comes from: env ``ATLAS_CONTENT_DIR``, default ``<repo>/content``."""
    return Path(os.environ.get("ATLAS_CONTENT_DIR", REPO_ROOT / "content"))


def read_corpus(directory: Path | None = None) -> str:
    """All ``*.md`` files under ``directory`` in sorted path order, joined by blank lines."""
    directory = directory or content_dir()
    files = sorted(p for p in directory.rglob("*.md") if p.is_file())
    return "\n\n".join(p.read_text(encoding="utf-8") for p in files)


def load_text(seq_len: int = TEXT_SEQ_LEN, directory: Path | None = None) -> Dataset:
    """Character-level windows over our own Markdown.

    The last 10 % of the characters are the test split (contiguous, so no window straddles
    both). Train windows overlap (stride seq_len // 8) to get more of them from a small corpus;
    test windows do not. The vocabulary is every character of the whole corpus, sorted.
    """
    directory = directory or content_dir()
    text = read_corpus(directory)
    if len(text) < TEXT_MIN_CHARS:
        raise ValueError(
            f"text corpus under {directory} has {len(text)} characters; at least {TEXT_MIN_CHARS} are "
            "needed (set ATLAS_CONTENT_DIR to a folder with more Markdown)"
        )
    itos = tuple(sorted(set(text)))
    stoi = {c: i for i, c in enumerate(itos)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)  # (n_chars,)
    n_test = max(len(ids) // 10, seq_len + 1)
    train_ids, test_ids = ids[:-n_test], ids[-n_test:]
    train = train_ids.unfold(0, seq_len, max(1, seq_len // 8)).contiguous()  # (N, seq_len)
    test = test_ids.unfold(0, seq_len, seq_len).contiguous()  # (M, seq_len)
    spec = DataSpec(kind="tokens", shape=(seq_len,), vocab_size=len(itos))
    return Dataset(name="text", spec=spec, train=train, test=test, itos=itos, stoi=stoi)


# --------------------------------------------------------------------------------------------
# Public entry points.

_BUILDERS: dict[str, Callable[[int], Dataset]] = {
    "ring8": lambda s: _mixture("ring8", s, ring8_modes(), 0.02, (-3.0, 3.0)),
    "grid25": lambda s: _mixture("grid25", s, grid25_modes(), 0.05, (-5.0, 5.0)),
    "moons": lambda s: _points2d("moons", s, _moons, (-4.0, 4.0)),
    "swissroll": lambda s: _points2d("swissroll", s, _swissroll, (-4.0, 4.0)),
    "checkerboard": lambda s: _points2d(
        "checkerboard", s, _checkerboard, (-4.0, 4.0), _checkerboard_log_density
    ),
    "pinwheel": lambda s: _points2d("pinwheel", s, _pinwheel, (-5.0, 5.0)),
    "digits": _digits,
    "text": lambda s: load_text(),
}

POINTS2D = ("ring8", "grid25", "moons", "swissroll", "checkerboard", "pinwheel")


def names() -> list[str]:
    """Every dataset name."""
    return list(_BUILDERS)


def kind_of(name: str) -> str:
    """The DataSpec kind of a dataset name without loading it."""
    _check(name)
    return "points2d" if name in POINTS2D else ("image" if name == "digits" else "tokens")


def _check(name: str) -> None:
    if name not in _BUILDERS:
        raise KeyError(f"unknown dataset {name!r}; valid names: {', '.join(_BUILDERS)}")


def load(name: str, seed: int = 0) -> Dataset:
    """Load (or generate) dataset ``name``; the same (name, seed) gives the same tensors.

    Results are cached per process; treat the returned tensors as read-only.
    """
    _check(name)
    if name == "text":  # not cached: the corpus can change while the process runs (content edits)
        return load_text()
    return _load_cached(name, seed)


@functools.lru_cache(maxsize=32)
def _load_cached(name: str, seed: int) -> Dataset:
    return _BUILDERS[name](seed)


# --------------------------------------------------------------------------------------------
# Discretised 2-D data (used by the AR-grid model).
#
# The square ``bounds = (lo, hi)`` is cut into ``bins`` equal cells per axis of width
# w = (hi - lo) / bins. ``quantize`` maps a point to the integer cell index of each coordinate
# (points outside are clamped to the edge cells). ``dequantize`` maps indices back to the cell
# centres, or with a generator to a uniform point inside the cell ("uniform dequantisation").
# A model with probabilities P over the bins**2 cells then has the continuous density
#     log p(x) = log P(cell(x)) - 2 log w            (bin_log_volume gives 2 log w)
# which is comparable with the nats of the continuous models.


def quantize(x: Tensor, bounds: tuple[float, float], bins: int) -> Tensor:
    """(N, 2) float -> (N, 2) long cell indices in [0, bins)."""
    lo, hi = bounds
    idx = torch.floor((x - lo) / (hi - lo) * bins).long()
    return idx.clamp_(0, bins - 1)


def dequantize(
    idx: Tensor, bounds: tuple[float, float], bins: int, generator: torch.Generator | None = None
) -> Tensor:
    """(N, 2) long cell indices -> (N, 2) float: cell centres, or uniform in the cell with a generator."""
    lo, hi = bounds
    width = (hi - lo) / bins
    if generator is None:
        offset = torch.full(idx.shape, 0.5)
    else:
        offset = torch.rand(idx.shape, generator=generator)
    return lo + (idx.float() + offset) * width


def bin_log_volume(bounds: tuple[float, float], bins: int, dim: int = 2) -> float:
    """log of one cell's volume, dim * log((hi - lo) / bins); subtract it from log P(cell)."""
    lo, hi = bounds
    return dim * math.log((hi - lo) / bins)
