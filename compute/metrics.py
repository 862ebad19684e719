"""Family-independent metrics for samples and likelihoods.

- Mode coverage on Gaussian mixtures: Lin et al. 2018, "PacGAN", Sec. 5 (following Srivastava
  et al. 2017, "VEEGAN"): a sample is *high quality* when it lies within 3 std of its nearest
  mean; a mode is *captured* when it is the nearest mean of at least one high-quality sample.
  For exact samples from a 2-D Gaussian P(r <= 3 std) = 1 - exp(-4.5) = 98.9 %.
- MMD: Gretton et al. 2012, unbiased estimate (their Eq. 3) with a sum of RBF kernels.
- Energy distance: Szekely & Rizzo 2013. Sliced Wasserstein: Bonneel et al. 2015 (POT).
- Precision / recall / density / coverage: Naeem et al. 2020, "Reliable Fidelity and Diversity
  Metrics for Generative Models" (k-NN balls, strict inequality as in their code).
- Frechet distance: Heusel et al. 2017, d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
- KID: Binkowski et al. 2018, unbiased MMD^2 with the kernel (x.y / d + 1)^3.
- KL(p_data || p_model) = E_data[-log p_model] - H(p_data) (cross-entropy minus entropy).

Conventions: log-likelihoods are in nats per example; tensors are on CPU, float.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

# For exact samples of a 2-D isotropic Gaussian, r^2 / std^2 ~ chi^2_2 (exponential, mean 2).
HQ_RADIUS = 3.0  # in units of std
_P_HQ_2D = 1.0 - math.exp(-(HQ_RADIUS**2) / 2)  # 0.98889
# E[r^2 / std^2 | r <= 3 std] / 2: what the per-coordinate variance of the HQ samples of a perfect
# model is (in std^2 units); dividing by it makes spread_ratio 1.0 for perfect samples.
_HQ_VAR_2D = (2.0 - HQ_RADIUS**2 * math.exp(-(HQ_RADIUS**2) / 2) / _P_HQ_2D) / 2.0  # 0.9494
# Median of r / std for a 2-D isotropic Gaussian (Rayleigh): sqrt(2 ln 2) = 1.1774.
_RAYLEIGH_MEDIAN = math.sqrt(2.0 * math.log(2.0))


# --------------------------------------------------------------------------------------------
# Mode coverage on Gaussian mixtures


def nearest_mode(samples: Tensor, modes: Tensor) -> tuple[Tensor, Tensor]:
    """Index (N,) of each sample's nearest mean and the distance (N,) to it."""
    d = torch.cdist(samples.double(), modes.double())  # (N, K)
    dist, idx = d.min(dim=1)
    return idx, dist


def mode_weight_tv(samples: Tensor, modes: Tensor, weights: Tensor | None = None) -> float:
    """Total variation 1/2 sum_k |share_k - w_k| between the share of all samples whose nearest
    mean is mode k and the true weights w (uniform when None). Sampling noise alone gives about
    0.5 * K * sqrt(2 / pi) * sqrt(w (1 - w) / N): 0.021 for ring8, 0.039 for grid25 at N = 2,500.
    """
    k = modes.shape[0]
    weights = torch.full((k,), 1.0 / k) if weights is None else weights
    idx, _ = nearest_mode(samples, modes)
    share = torch.bincount(idx, minlength=k).double() / max(len(idx), 1)
    return 0.5 * float((share - weights.double()).abs().sum())


def spread_ratio(samples: Tensor, modes: Tensor, std: float) -> float:
    """Median distance of the finite samples to their nearest mean, divided by the median a perfect
    sampler gets (std * sqrt(2 ln 2) = 1.177 std: the Rayleigh median of a 2-D Gaussian). Exact
    samples give 1.0; < 1 means sharpened or collapsed modes, > 1 blurred ones: samples 2x or 5x
    too wide give 2 or 5. The median is taken over *all* samples, not over the ones within 3 std,
    because the 3-std cut made the old RMS ratio saturate near 1.54 however wide the modes were
    (issue 13, item 10); as a median it still ignores a minority (< 50 %) of far-off samples.
    NaN when no sample is finite.
    """
    samples = samples.double()
    samples = samples[torch.isfinite(samples).all(dim=1)]
    if len(samples) == 0:
        return float("nan")
    _, dist = nearest_mode(samples, modes)
    return float(dist.median()) / (std * _RAYLEIGH_MEDIAN)


def mode_stats(samples: Tensor, modes: Tensor, std: float, weights: Tensor | None = None) -> dict[str, float]:
    """PacGAN mode statistics of ``samples`` (N, 2) against mixture ``modes`` (K, 2) of std ``std``.

    Returns modes_captured (count), num_modes, hq_fraction (share of samples within 3 std of the
    nearest mean), mode_weight_tv and spread_ratio. The standard protocol uses N = 2,500.
    ``modes_captured`` and ``hq_fraction`` are the *literature* columns (a mode counts with a
    single high-quality sample, so uniform noise over grid25's box "captures" most modes); verdicts
    use :func:`judge_2d` instead.
    """
    samples = samples.detach().cpu().double()
    finite = torch.isfinite(samples).all(dim=1)
    idx, dist = nearest_mode(samples[finite], modes)
    hq = dist <= HQ_RADIUS * std
    captured = torch.unique(idx[hq]).numel()
    return {
        "modes_captured": int(captured),
        "num_modes": int(modes.shape[0]),
        "hq_fraction": float(hq.sum()) / max(samples.shape[0], 1),  # non-finite samples count as bad
        "mode_weight_tv": mode_weight_tv(samples[finite], modes, weights),
        "spread_ratio": spread_ratio(samples[finite], modes, std),
    }


def meets_mode_threshold(stats: dict[str, float]) -> bool:
    """The quality bar used by the benchmarks: every mode captured, >= 90 % HQ, TV <= 0.10 and
    spread ratio in [0.8, 1.25]."""
    return (
        stats["modes_captured"] == stats["num_modes"]
        and stats["hq_fraction"] >= 0.90
        and stats["mode_weight_tv"] <= 0.10
        and 0.8 <= stats["spread_ratio"] <= 1.25
    )


# --------------------------------------------------------------------------------------------
# Verdict-grade judgement of 2-D mixture samples (issue 13)
#
# The literature columns above cannot carry a verdict: one stray high-quality sample "captures" a
# mode, so uniform noise over grid25's box captures 21-25 of 25. judge_2d counts a mode only when
# it holds a real share of the high-quality mass it should hold, measures the mode weights on the
# high-quality samples only, gates on the high-quality fraction, and tells the ways of failing apart.
# The thresholds are declared once here and checked by tests/compute/test_sanity_panel.py: exact
# samples pass; noise, collapse, 2x / 5x blur and wrong weights fail.

MODE_MASS_SHARE = 0.5  # a mode counts with >= 50 % of its expected HQ count w_k * P(HQ) * N
HQ_GATE = 0.90  # >= 90 % of all samples within 3 std (exact: 98.9 %; 2x too wide: 67.5 %)
HQ_TV_MAX = 0.10  # TV of the HQ samples' mode shares from the true weights (exact ~0.04 on grid25)
SPREAD_RANGE = (0.8, 1.25)  # median-based spread ratio (exact 1.0; 2x too wide 2.0)
IN_BOX_MIN = 0.5  # below this share of finite samples inside the data box: divergence
# Structure: the median distance to the nearest mean is below this share of the median that
# uniform noise over the data box gets (grid25: noise 0.77, i.e. 15 std; 5x blur 0.29).
STRUCTURE_SHARE = 0.5

Diagnosis = Literal[
    "meets", "divergence", "noise", "collapse", "blurred", "sharpened", "outliers", "misweighted"
]


@dataclass(frozen=True)
class Judgement2D:
    """What :func:`judge_2d` found. ``diagnosis`` names the first failing check (see judge_2d)."""

    meets: bool
    diagnosis: Diagnosis
    modes_counted: int  # modes holding >= MODE_MASS_SHARE of their expected HQ count
    num_modes: int
    hq_fraction: float  # share of all samples within 3 std of their nearest mean
    hq_mode_tv: float  # TV between the HQ samples' mode shares and the true weights
    spread_ratio: float  # median-based, 1.0 for exact samples (see spread_ratio)
    in_box_fraction: float  # share of samples that are finite and inside the data box
    structure_ratio: float  # median nearest-mean distance / that of uniform noise over the box
    literature_modes_captured: int  # PacGAN / VEEGAN: modes with >= 1 HQ sample
    literature_hq_fraction: float  # PacGAN / VEEGAN: share of samples within 3 std
    reason: str  # one sentence with the numbers behind the diagnosis

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()
        }


def _noise_median_distance(modes: Tensor, bounds: tuple[float, float]) -> float:
    """Median nearest-mean distance of uniform noise over the square ``bounds`` (a 200 x 200 grid of
    cell centres: deterministic, no sampling noise)."""
    grid, _ = grid_points(bounds, 200)
    _, dist = nearest_mode(grid, modes)
    return float(dist.median())


def judge_2d(samples: Tensor, dataset: Any) -> Judgement2D:
    """Verdict-grade judgement of samples (N, 2) against a 2-D Gaussian-mixture ``dataset`` (an
    object with ``modes``, ``mode_std``, ``mode_weights`` and ``spec.bounds``, or its name).

    Checks, in order; the first that fails names the diagnosis:

    1. ``divergence``: fewer than 50 % of the samples are finite and inside the data box.
    2. ``noise``: no structure at the modes: the median nearest-mean distance is at least half of
       what uniform noise over the box gets.
    3. ``collapse``: some mode holds < 50 % of its expected HQ count while the samples it does hold
       are sharp (spread ratio <= 1.25): few modes, sharp.
    4. ``blurred`` (spread > 1.25) or ``sharpened`` (spread < 0.8); blur that empties modes of
       their HQ mass (5x too wide) is ``blurred``, not collapse.
    5. ``outliers``: modes sharp and all present, but < 90 % of the samples are high quality.
    6. ``misweighted``: TV of the HQ samples' mode shares from the true weights > 0.10.
    7. otherwise ``meets``.
    """
    if isinstance(dataset, str):
        from compute import datasets

        dataset = datasets.load(dataset)
    if dataset.modes is None or dataset.mode_std is None:
        raise ValueError(f"dataset {getattr(dataset, 'name', dataset)!r} is not a Gaussian mixture")
    modes, std = dataset.modes.double(), float(dataset.mode_std)
    k = modes.shape[0]
    weights = torch.full((k,), 1.0 / k) if dataset.mode_weights is None else dataset.mode_weights
    weights = weights.double()
    lo, hi = dataset.spec.bounds
    x = samples.detach().cpu().double().reshape(len(samples), -1)
    n = max(len(x), 1)
    finite = torch.isfinite(x).all(dim=1)
    in_box = finite & (x.nan_to_num(0.0) >= lo).all(dim=1) & (x.nan_to_num(0.0) <= hi).all(dim=1)
    idx, dist = nearest_mode(x[finite], modes)
    hq = dist <= HQ_RADIUS * std
    hq_counts = torch.bincount(idx[hq], minlength=k).double()
    counted = int((hq_counts >= MODE_MASS_SHARE * weights * _P_HQ_2D * n).sum())
    hq_share = hq_counts / hq_counts.sum().clamp_min(1.0)
    hq_tv = 0.5 * float((hq_share - weights).abs().sum()) if bool(hq.any()) else 1.0
    med = float(dist.median()) if len(dist) else float("inf")
    j = dict(
        modes_counted=counted,
        num_modes=k,
        hq_fraction=float(hq.sum()) / n,
        hq_mode_tv=hq_tv,
        spread_ratio=med / (std * _RAYLEIGH_MEDIAN),
        in_box_fraction=float(in_box.sum()) / n,
        structure_ratio=med / _noise_median_distance(modes, (lo, hi)),
        literature_modes_captured=int(torch.unique(idx[hq]).numel()),
        literature_hq_fraction=float(hq.sum()) / n,
    )
    diagnosis, reason = _diagnose(j)
    return Judgement2D(meets=diagnosis == "meets", diagnosis=diagnosis, reason=reason, **j)


def _diagnose(j: dict[str, Any]) -> tuple[Diagnosis, str]:
    """The first failing check of :func:`judge_2d` and a sentence with its numbers."""
    lo, hi = SPREAD_RANGE
    counted = f"{j['modes_counted']}/{j['num_modes']} modes hold >= {MODE_MASS_SHARE:.0%} of their HQ mass"
    spread = f"spread ratio {j['spread_ratio']:.2f}"
    if j["in_box_fraction"] < IN_BOX_MIN:
        return (
            "divergence",
            f"only {j['in_box_fraction']:.1%} of the samples are finite and inside the data box",
        )
    if j["structure_ratio"] >= STRUCTURE_SHARE:
        return "noise", (
            f"no structure at the modes: median distance {j['structure_ratio']:.2f} x uniform noise's"
        )
    if j["modes_counted"] < j["num_modes"] and j["spread_ratio"] <= hi:
        return "collapse", f"{counted}, {spread} (sharp)"
    if j["spread_ratio"] > hi:
        return "blurred", f"{spread} > {hi}; {counted}"
    if j["spread_ratio"] < lo:
        return "sharpened", f"{spread} < {lo}"
    if j["hq_fraction"] < HQ_GATE:
        return "outliers", f"{j['hq_fraction']:.1%} high-quality samples < {HQ_GATE:.0%}"
    if j["hq_mode_tv"] > HQ_TV_MAX:
        return "misweighted", f"mode-weight TV on HQ samples {j['hq_mode_tv']:.3f} > {HQ_TV_MAX}"
    return "meets", f"{counted}, {j['hq_fraction']:.1%} HQ, TV {j['hq_mode_tv']:.3f}, {spread}"


# --------------------------------------------------------------------------------------------
# Two-sample distances


def median_distance(x: Tensor, max_points: int = 2000) -> float:
    """Median pairwise distance of (up to the first ``max_points`` rows of) x."""
    x = x[:max_points].double()
    d = torch.pdist(x)
    return float(d.median()) if d.numel() else 1.0


def local_scale(x: Tensor, k: int = 10, max_points: int = 2000) -> float:
    """Median distance from a point of x to its k-th nearest neighbour (among the first
    ``max_points`` rows): the data's own small scale. On ring8 / grid25 at 2,000 points it is about
    0.3 / 0.5 of the mode std; 0 when points repeat (then 1.0 is returned to keep kernels finite)."""
    x = x[:max_points].reshape(len(x[:max_points]), -1).double()
    if len(x) <= k:
        return median_distance(x)
    r = float(torch.cdist(x, x).kthvalue(k + 1, dim=1).values.median())
    return r if r > 0 else 1.0


def mmd(
    x: Tensor, y: Tensor, bandwidths: tuple[float, ...] | None = None, *, scale: float | None = None
) -> float:
    """Unbiased MMD^2 between samples x (N, D) and y (M, D) with the mean of RBF kernels
    exp(-|a - b|^2 / (2 s^2)) over ``bandwidths`` s. Can be slightly negative when the
    distributions match.

    Default bandwidths, fixed by x so that models compared against the same real set share one
    kernel: the median distance of x times (1/8, 1/4, 1/2, 1, 2) -- the global layout -- plus
    widths at the data's own small scale, ``scale`` times (1/2, 1, 2) where ``scale`` defaults to
    2 x :func:`local_scale` (x). The global widths alone (0.35 - 5.7 on ring8) cannot see a mode
    std of 0.02, and samples 2x too wide scored a *lower* MMD^2 than exact ones (issue 13, item 6);
    pass ``scale=dataset.mode_std`` where the mixture's std is known.
    """
    x, y = x.reshape(len(x), -1).double(), y.reshape(len(y), -1).double()
    if bandwidths is None:
        med = median_distance(x)
        small = 2.0 * local_scale(x) if scale is None else scale
        bandwidths = tuple(med * f for f in (0.125, 0.25, 0.5, 1.0, 2.0)) + tuple(
            small * f for f in (0.5, 1.0, 2.0)
        )

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        # float32 kernel entries (they lie in [0, 1]) summed in float64 below: 3x faster on CPU.
        d2 = torch.cdist(a, b).pow(2).float()
        out = torch.zeros_like(d2)
        for s in bandwidths:
            out.add_(torch.exp(d2 * (-0.5 / s**2)))
        return out.double() / len(bandwidths)

    n, m = len(x), len(y)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    # Drop the diagonal (k(a, a) = 1) for the unbiased within-set terms.
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(term_x + term_y - 2 * kxy.mean())


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| (within-set terms without the diagonal)."""
    x, y = x.reshape(len(x), -1).double(), y.reshape(len(y), -1).double()
    n, m = len(x), len(y)
    dxy = torch.cdist(x, y).mean()
    dxx = torch.cdist(x, x).sum() / (n * (n - 1))
    dyy = torch.cdist(y, y).sum() / (m * (m - 1))
    return float(2 * dxy - dxx - dyy)


def sliced_wasserstein(x: Tensor, y: Tensor, n_projections: int = 256, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance with POT (random directions fixed by ``seed``); a torch version
    on matched quantiles where POT is not installed (e.g. a bare GPU image)."""
    xa = x.reshape(len(x), -1).double()
    ya = y.reshape(len(y), -1).double()
    try:
        import ot
    except ImportError:
        g = torch.Generator().manual_seed(seed)
        dirs = torch.randn(xa.shape[1], n_projections, generator=g, dtype=torch.float64)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)  # (D, P) unit directions
        q = torch.linspace(0, 1, max(len(xa), len(ya)), dtype=torch.float64)
        px = torch.quantile(xa @ dirs, q, dim=0)  # (Q, P) quantile functions per direction
        py = torch.quantile(ya @ dirs, q, dim=0)
        return float((px - py).pow(2).mean().sqrt())
    sw = ot.sliced_wasserstein_distance(xa.numpy(), ya.numpy(), n_projections=n_projections, seed=seed)
    return float(sw)


def prdc(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage (Naeem et al. 2020) with k-NN balls on (N, ...) sets.

    precision: share of fake points inside some real k-NN ball; recall: share of real points
    inside some fake k-NN ball; density: mean number of real balls holding a fake point, / k;
    coverage: share of real balls holding at least one fake point. Identical sets give 1, 1, 1, 1.
    """
    real = real.reshape(len(real), -1).double()
    fake = fake.reshape(len(fake), -1).double()

    def knn_radius(a: Tensor) -> np.ndarray:
        # Distance to the k-th neighbour other than the point itself (the (k+1)-th smallest,
        # since d(a, a) = 0). All distances come from the same torch.cdist so that a point at
        # exactly the radius is excluded consistently (the strict "<" of the reference code).
        return torch.cdist(a, a).kthvalue(k + 1, dim=1).values.numpy()

    r_real, r_fake = knn_radius(real), knn_radius(fake)  # (Nr,), (Nf,)
    d = torch.cdist(real, fake).numpy()  # (Nr, Nf)
    in_real_ball = d < r_real[:, None]  # (Nr, Nf): fake j inside real ball i
    in_fake_ball = d < r_fake[None, :]  # (Nr, Nf): real i inside fake ball j
    return {
        "precision": float(in_real_ball.any(axis=0).mean()),
        "recall": float(in_fake_ball.any(axis=1).mean()),
        "density": float(in_real_ball.sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < r_real).mean()),
    }


def score_2d(samples: Tensor, dataset: Any, seed: int = 0) -> dict[str, Any]:
    """Every 2-D metric of ``samples`` (N, 2) against ``dataset`` (a 2-D set): the two-sample
    distances against a fresh reference draw of the same size (seed 10,000 + ``seed``, never the
    training split), the mean true log-density of the samples where the set has one, and for
    Gaussian mixtures the PacGAN / VEEGAN literature columns and the :func:`judge_2d` judgement.
    What ``python -m compute score`` prints."""
    x = samples.detach().cpu().float().reshape(len(samples), -1)
    real = dataset.sample(len(x), torch.Generator().manual_seed(10_000 + seed))
    out: dict[str, Any] = {"dataset": dataset.name, "n_samples": len(x), "reference_seed": 10_000 + seed}
    out["mmd2"] = mmd(real, x)
    out["energy_distance"] = energy_distance(real, x)
    out["sliced_wasserstein"] = sliced_wasserstein(real, x, seed=seed)
    out["prdc"] = prdc(real, x)
    if dataset.spec.true_log_density is not None:
        out["mean_true_log_density"] = float(dataset.spec.true_log_density(x).double().mean())
    if dataset.modes is not None:
        stats = mode_stats(x, dataset.modes, dataset.mode_std, dataset.mode_weights)
        out["literature"] = {
            "modes_captured": stats["modes_captured"],
            "num_modes": stats["num_modes"],
            "hq_fraction": stats["hq_fraction"],
            "note": "PacGAN / VEEGAN: a mode with >= 1 sample within 3 std counts; not a verdict criterion",
        }
        out["mode_weight_tv"] = stats["mode_weight_tv"]
        out["spread_ratio"] = stats["spread_ratio"]
        out["benchmark_bar"] = meets_mode_threshold(stats)
        out["judgement"] = judge_2d(x, dataset).as_dict()
    return out


# --------------------------------------------------------------------------------------------
# Likelihood-based numbers


def kl_from_nll(nll_nats_mean: float, true_entropy_nats: float) -> float:
    """KL(p_data || p_model) = E_data[-log p_model] - H(p_data), in nats.

    With a bound (ELBO) in place of log p_model the result is an upper estimate of the KL.
    """
    return nll_nats_mean - true_entropy_nats


def true_entropy(dataset, n: int = 200_000, seed: int = 12345) -> float:
    """H(p_data) = E[-log p_data(x)] in nats, by Monte Carlo over n fresh draws (2-D sets with a
    closed-form density). Standard error ~ std(log p) / sqrt(n): about 0.002 nats at the default."""
    if dataset.spec.true_log_density is None:
        raise ValueError(f"dataset {dataset.name!r} has no closed-form density")
    g = torch.Generator().manual_seed(seed)
    x = dataset.sample(n, g)
    return float(-dataset.spec.true_log_density(x).double().mean())


def grid_points(bounds: tuple[float, float], n: int) -> tuple[Tensor, float]:
    """Cell centres (n*n, 2) of an n x n grid on the square ``bounds`` and the log cell area."""
    lo, hi = bounds
    h = (hi - lo) / n
    axis = lo + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    grid = torch.cartesian_prod(axis, axis).float()  # (n*n, 2)
    return grid, 2 * math.log(h)


def grid_log_mass(
    log_density_fn: Callable[[Tensor], Tensor], bounds: tuple[float, float], n: int = 400, chunk: int = 65536
) -> float:
    """log of the integral of exp(log_density_fn) over the square ``bounds`` (midpoint rule):
    logsumexp over the n x n cell centres + log cell area. ~0 for a normalised density whose
    mass lies inside ``bounds`` and is smooth on the scale of a cell."""
    grid, log_area = grid_points(bounds, n)
    with torch.no_grad():
        chunks = [log_density_fn(grid[i : i + chunk]).double().cpu() for i in range(0, len(grid), chunk)]
    values = torch.cat(chunks)  # (n*n,)
    return float(torch.logsumexp(values, dim=0)) + log_area


def grid_log_partition(
    energy_fn: Callable[[Tensor], Tensor], bounds: tuple[float, float], n: int = 400
) -> float:
    """log Z = log of the integral of exp(-E(x)) over ``bounds``, for p(x) = exp(-E(x)) / Z (2-D EBM).
    Then log p(x) = -E(x) - log Z is a quadrature *estimate* of the exact log density."""
    return grid_log_mass(lambda x: -energy_fn(x), bounds, n)


# --------------------------------------------------------------------------------------------
# Feature-space metrics (digits): features come from compute.features


def frechet_from_stats(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)) for two Gaussians."""
    from scipy import linalg

    with warnings.catch_warnings():  # dead ReLU features make S1 S2 singular; sqrtm copes, but warns
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():  # regularise as in the FID reference code
            eps = 1e-6 * np.eye(s1.shape[0])
            covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = covmean.real  # imaginary parts are numerical noise
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def frechet_distance(real_feats: Tensor, fake_feats: Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, D), (M, D)."""
    a, b = real_feats.double().numpy(), fake_feats.double().numpy()
    return frechet_from_stats(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def kid(real_feats: Tensor, fake_feats: Tensor) -> float:
    """Kernel inception distance: unbiased MMD^2 with k(a, b) = (a.b / D + 1)^3 (one estimate on all
    points; ~0 for sets from the same distribution, can be slightly negative)."""
    x, y = real_feats.double(), fake_feats.double()
    d = x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    n, m = len(x), len(y)
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(term_x + term_y - 2 * kxy.mean())


def class_coverage(predicted: Tensor, num_classes: int = 10) -> dict[str, float]:
    """From classifier predictions (N,) on samples: share of classes predicted at least once and
    the TV distance of the predicted-class histogram from uniform (0 = perfectly balanced)."""
    counts = torch.bincount(predicted.long().cpu(), minlength=num_classes).double()
    share = counts / counts.sum().clamp_min(1)
    return {
        "classes_covered": float((counts > 0).double().mean()),
        "class_tv": 0.5 * float((share - 1.0 / num_classes).abs().sum()),
    }


def bits_per_dim(nll_nats: float, dims: int) -> float:
    """nats per example -> bits per dimension: nll / (dims ln 2).

    Discrete data convention (digits: 17 levels v in {0..16}, stored as x = v / 16): the number
    is meant for -log P(v), the probability of the *discrete* image, so that every family is on
    one scale (uniform over levels = log2(17) = 4.09 bits/dim). A discrete model (MADE, AR grid)
    gives -log P(v) exactly. A continuous density p(y) over dequantised pixels y = v / w + u,
    u ~ U[0, w) per pixel (bin width w), gives -log P(v) <= E_u[-log p(y)] - dims log w (Jensen;
    Theis et al. 2016): see :func:`discrete_nll_from_density`. The label (exact/bound/estimate)
    comes from the family's LogLikelihood.kind; a dequantised density is always at best a bound.
    """
    return nll_nats / (dims * math.log(2))


def discrete_nll_from_density(nll_density_nats: Tensor, dims: int, bin_width: float) -> Tensor:
    """Upper bound on -log P(v) from a continuous density on uniformly dequantised data:
    -log p(y) - dims log(bin_width). With y in [0, 1] and 17 levels, bin_width = 1/17."""
    return nll_density_nats - dims * math.log(bin_width)


def bits_per_char(nll_nats_per_sequence: float, seq_len: int) -> float:
    """nats per sequence -> bits per character."""
    return nll_nats_per_sequence / (seq_len * math.log(2))
