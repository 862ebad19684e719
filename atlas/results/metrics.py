"""The metric catalogue: every number a results board or `/api/results/` can show or rank by.

A metric names where a run keeps its value (`Run.metrics`, or `Run.result` for the cost columns)
and which direction is better; `signed` turns every metric into "ascending is best", so ranking
code never asks. One catalogue, so the board, its exports and the API rank by the same keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from atlas.runs.models import Run
from compute.families.base import LIKELIHOOD_KIND_LABELS

LIKELIHOOD_LABELS = LIKELIHOOD_KIND_LABELS  # one rule for every family (compute/families/base.py)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    path: tuple[str, ...]
    better: Literal["lower", "higher"]
    description: str
    source: Literal["metrics", "result"] = "metrics"
    quality: bool = True  # ranked in the disagreement analysis (cost columns are not)

    def value(self, run: Run) -> float | None:
        node: Any = run.result if self.source == "result" else run.metrics
        for key in self.path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        if isinstance(node, bool) or not isinstance(node, int | float) or not math.isfinite(node):
            return None
        return float(node)

    def signed(self, value: float) -> float:
        """The value oriented so that ascending order is best first."""
        return value if self.better == "lower" else -value

    @property
    def arrow(self) -> str:
        return "↓" if self.better == "lower" else "↑"


def _m(key, label, path, better, description, **kw) -> Metric:
    return Metric(key, label, tuple(path), better, description, **kw)


PRDC = (
    _m(
        "precision",
        "Precision",
        ("prdc", "precision"),
        "higher",
        "PRDC precision: share of samples near the data",
    ),
    _m("recall", "Recall", ("prdc", "recall"), "higher", "PRDC recall: share of the data near the samples"),
    _m("coverage", "Coverage", ("prdc", "coverage"), "higher", "PRDC coverage of the data's neighbourhoods"),
)
NLL = _m(
    "nll",
    "NLL",
    ("likelihood", "value"),
    "lower",
    "test negative log-likelihood; exact, a bound (−ELBO) or an estimate, as each family has",
)
POINT_METRICS = (
    _m(
        "sliced_wasserstein",
        "Sliced W₁",
        ["sliced_wasserstein"],
        "lower",
        "sliced Wasserstein distance to fresh data",
    ),
    _m("mmd2", "MMD²", ["mmd2"], "lower", "squared maximum mean discrepancy to fresh data"),
    _m("energy_distance", "Energy dist.", ["energy_distance"], "lower", "energy distance to fresh data"),
    _m(
        "modes_counted",
        "Modes held",
        ["judgement", "modes_counted"],
        "higher",
        "modes holding at least half of their expected high-quality mass (the verdict-grade count)",
    ),
    _m(
        "modes_captured",
        "Modes hit",
        ["modes_captured"],
        "higher",
        "mixture modes with at least one high-quality sample (the literature's count)",
    ),
    _m("hq_fraction", "HQ share", ["hq_fraction"], "higher", "share of samples within 3 std of a mode"),
    _m("mode_weight_tv", "Mode-weight TV", ["mode_weight_tv"], "lower", "TV distance of the mode weights"),
    *PRDC,
    NLL,
    _m("kl_data_model", "KL(data‖model)", ["kl_data_model", "value"], "lower", "NLL minus the data entropy"),
)
IMAGE_METRICS = (
    _m(
        "frechet_distance",
        "Fréchet dist.",
        ["frechet_distance"],
        "lower",
        "Fréchet distance in the digit feature space",
    ),
    _m("kid", "KID", ["kid"], "lower", "kernel inception distance in the digit feature space"),
    *PRDC,
    _m(
        "class_tv", "Class TV", ["class_tv"], "lower", "TV distance of the sampled digit classes from uniform"
    ),
    NLL,
)
COST_METRICS = (
    _m("nfe", "NFE", ["nfe"], "lower", "network evaluations per sample", source="result", quality=False),
    _m(
        "wall_time_s",
        "Wall time (s)",
        ["wall_time_s"],
        "lower",
        "wall time of the run",
        source="result",
        quality=False,
    ),
    _m(
        "parameters",
        "Parameters",
        ["parameters"],
        "lower",
        "trainable parameters",
        source="result",
        quality=False,
    ),
)
# Text has no board, but its runs are ranked by /api/results/.
UNIGRAM_TV = _m("unigram_tv", "Unigram TV", ["unigram_tv"], "lower", "TV distance of the character unigrams")
METRICS: dict[str, Metric] = {m.key: m for m in (*IMAGE_METRICS, *POINT_METRICS, UNIGRAM_TV, *COST_METRICS)}


def fmt(value: float | None) -> str:
    """A value as the board shows it: three significant digits, scientific only far from 1."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e7 or magnitude < 1e-3:
        return f"{value:.2e}"
    if magnitude >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if magnitude < 1 else f"{value:.3f}".rstrip("0").rstrip(".")


def fmt_std(mean: float, std: float) -> str:
    """The std with as many decimals as the mean shows (two significant digits if that rounds to 0)."""
    shown = fmt(mean)
    if "e" in shown or std == 0:
        return fmt(std)
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    text = f"{std:.{decimals}f}"
    return text if float(text) != 0 else f"{std:.2g}"
