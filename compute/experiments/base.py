"""What every experiment returns: measured tables, figures and a verdict computed from the numbers.

Failure-mode experiments (``kind="failure-mode"``) pit a *reproduce* configuration against a *fix*
on the same data and seeds; unification experiments (``kind="unification"``) measure in what
sense two families agree and where the caveat bites. Both are plain torch code (no Django): the
``experiments run`` management command stores their results and the site shows them.

A verdict is never written by hand: each experiment has a small, tested function that maps its
measurements to a verdict code and a sentence with the numbers in it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

ExperimentKind = Literal["failure-mode", "unification"]
# reproduced / not-reproduced (failure modes: did the failure show and did the fix beat it on every
# seed?), holds / partly-holds / fails (unifications), not-reproducible (e.g. hallucination).
VerdictCode = Literal[
    "reproduced", "partly-reproduced", "not-reproduced", "holds", "partly-holds", "fails", "not-reproducible"
]


@dataclass(frozen=True)
class Scale:
    """How much compute an experiment may spend. ``smoke`` is CI's: it checks the pipeline and that
    every quantity is computed, not that the effect appears; ``full`` is what the site shows."""

    name: Literal["smoke", "full"]
    seeds: int
    budget: float  # multiplier on each experiment's full step budget, in (0, 1]

    def steps(self, full: int, minimum: int = 10) -> int:
        return max(minimum, int(full * self.budget))


SMOKE = Scale("smoke", seeds=1, budget=0.02)
FULL = Scale("full", seeds=3, budget=1.0)
SCALES = {"smoke": SMOKE, "full": FULL}


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "columns": self.columns,
            "rows": [[_plain(v) for v in r] for r in self.rows],
        }


@dataclass
class Verdict:
    code: VerdictCode
    text: str  # one sentence with the measured numbers in it


@dataclass
class ExperimentResult:
    slug: str  # the content node it belongs to (failure-mode or unification slug)
    kind: ExperimentKind
    title: str
    verdict: Verdict
    tables: list[Table]
    measurements: dict[str, Any]  # raw numbers the verdict was computed from
    params: dict[str, Any]  # data, budgets, seeds
    figures: dict[str, bytes] = field(default_factory=dict)  # name -> PNG bytes
    recipes: list[dict[str, Any]] = field(default_factory=list)  # {role, recipe, config}: "run it yourself"
    scale: str = "full"
    wall_time_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "kind": self.kind,
            "title": self.title,
            "verdict": {"code": self.verdict.code, "text": self.verdict.text},
            "tables": [t.as_dict() for t in self.tables],
            "measurements": _plain(self.measurements),
            "params": _plain(self.params),
            "recipes": self.recipes,
            "scale": self.scale,
            "wall_time_s": round(self.wall_time_s, 2),
            "figures": sorted(self.figures),
        }


class Experiment:
    """Subclass per experiment: set the class variables, implement ``measure`` and ``verdict``."""

    slug: ClassVar[str]
    kind: ClassVar[ExperimentKind]
    title: ClassVar[str]

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        raise NotImplementedError

    def run(self, scale: Scale = FULL, log: Callable[[str], None] = lambda _: None) -> ExperimentResult:
        t0 = time.perf_counter()
        result = self.measure(scale, log)
        result.scale, result.wall_time_s = scale.name, time.perf_counter() - t0
        return result

    def result(
        self,
        verdict: Verdict,
        tables: list[Table],
        measurements: dict[str, Any],
        params: dict[str, Any],
        figures: dict[str, bytes],
        recipes: list[dict[str, Any]],
    ) -> ExperimentResult:
        """What ``measure`` returns; slug, kind and title come from the class."""
        return ExperimentResult(
            self.slug, self.kind, self.title, verdict, tables, measurements, params, figures, recipes
        )


# --------------------------------------------------------------------------------------------
# Budgets and models, the same for every experiment


def seeds_of(scale: Scale, cap: int | None = None) -> list[int]:
    """Seeds 0..scale.seeds - 1 (at most ``cap`` of them)."""
    n = scale.seeds if cap is None else min(scale.seeds, cap)
    return list(range(n))


def device() -> str:
    """Where experiments train: the trainer's choice (cuda when available, else cpu)."""
    from compute.trainer import pick_device

    return pick_device()


def build_model(name: str, dataset: Any, *, seed: int, variant: str | None = None, **overrides: Any) -> Any:
    """Family ``name`` for ``dataset`` (anything with a ``spec``) through the registry, on :func:`device`."""
    from compute import registry

    return registry.build(name, dataset.spec, variant=variant, seed=seed, device=device(), **overrides)


def mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def fmt(values: list[float], digits: int = 2) -> str:
    """'3.1 ± 1.2' over seeds (± 0 for one seed)."""
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
