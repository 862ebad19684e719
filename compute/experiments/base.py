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
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class Evidence:
    """What makes a verdict evidence (issue 13): the claim, a prediction that could have failed and
    what was measured for it, and a negative control -- the same code and thresholds on a case where
    the claim should *not* hold -- with what was measured there and whether the verdict rule
    rejected it. A verdict whose control is not rejected is no evidence (see :func:`guard`)."""

    claim: str
    prediction: str
    outcome: str  # what the prediction met, with the numbers
    control: str
    control_outcome: str  # what the control gave, with the numbers
    control_rejected: bool  # True when the verdict rule rejected the control, as it must
    identities: tuple[str, ...] = ()  # checks that hold by algebra: shown, labelled, never evidence

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "prediction": self.prediction,
            "outcome": self.outcome,
            "control": self.control,
            "control_outcome": self.control_outcome,
            "control_rejected": bool(self.control_rejected),
            "identities": list(self.identities),
        }


# What a positive verdict becomes when its negative control passes the same rule.
_UNSUPPORTED: dict[str, VerdictCode] = {
    "reproduced": "not-reproduced",
    "partly-reproduced": "not-reproduced",
    "holds": "partly-holds",
}


def guard(verdict: Verdict, evidence: Evidence) -> Verdict:
    """``verdict`` unchanged when the control was rejected; otherwise a positive verdict is withdrawn
    (reproduced -> not-reproduced, holds -> partly-holds) and the text says why."""
    if evidence.control_rejected or verdict.code not in _UNSUPPORTED:
        return verdict
    return Verdict(
        _UNSUPPORTED[verdict.code],
        f"{verdict.text} Withdrawn: the negative control passed the same rule ({evidence.control_outcome}), "
        "so the rule does not tell the claim from its absence.",
    )


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
    evidence: Evidence | None = None  # claim, prediction, negative control and both outcomes

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
            "evidence": None if self.evidence is None else self.evidence.as_dict(),
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
        evidence: Evidence | None = None,
    ) -> ExperimentResult:
        """What ``measure`` returns; slug, kind and title come from the class. With ``evidence`` the
        verdict passes through :func:`guard` (a control that passes the rule withdraws it)."""
        if evidence is not None:
            verdict = guard(verdict, evidence)
        return ExperimentResult(
            self.slug,
            self.kind,
            self.title,
            verdict,
            tables,
            measurements,
            params,
            figures,
            recipes,
            evidence=evidence,
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


@dataclass(frozen=True)
class Summary:
    """Mean, sample std (ddof 1) and n of the finite values; std is NaN for n < 2 (never 0)."""

    mean: float
    std: float
    n: int

    def text(self, digits: int = 2, with_n: bool = True, unit: str = "") -> str:
        """'3.10 ± 1.20 (n = 3)'; one value prints as '3.10 (n = 1)', never '± 0.00'; 'n/a' for none.
        ``unit`` goes before the n ('12.5 ± 3.0 % (n = 3)')."""
        if self.n == 0:
            return "n/a"
        core = f"{self.mean:.{digits}f}" if self.n == 1 else f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"
        core += unit
        return f"{core} (n = {self.n})" if with_n else core


def summarise(values: Sequence[float | None]) -> Summary:
    """:class:`Summary` over the finite values (None, NaN and inf are dropped and not counted)."""
    arr = np.asarray([float(v) for v in values if v is not None and np.isfinite(float(v))], dtype=float)
    if arr.size == 0:
        return Summary(float("nan"), float("nan"), 0)
    return Summary(float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else float("nan"), int(arr.size))


def mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """(mean, sample std) over the finite values; std is 0.0 for a single value (kept for callers that
    do arithmetic with it -- print with :func:`fmt`, which never shows that 0)."""
    s = summarise(values)
    return s.mean, (0.0 if s.n == 1 else s.std)


def fmt(values: Sequence[float | None], digits: int = 2, with_n: bool = True) -> str:
    """'3.10 ± 1.20 (n = 3)' over the seeds' finite values; '3.10 (n = 1)' for one seed; 'n/a' for none.
    The one formatter for every experiment table and verdict sentence (issue 13: n on every mean)."""
    return summarise(values).text(digits, with_n)


def fmt_pct(fractions: Sequence[float | None], digits: int = 1, with_n: bool = True) -> str:
    """Fractions shown as percentages, sign included: '12.5 ± 3.0 % (n = 3)' for 0.125 ± 0.030."""
    return summarise([None if v is None else 100 * float(v) for v in fractions]).text(digits, with_n, " %")


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
