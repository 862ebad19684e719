"""Shared pieces of the failure-mode experiments: train-and-sample, per-seed bookkeeping, the
generic reproduce-vs-fix verdict rule, tables and side-by-side figures.

Every experiment here trains a *reproduce* arm and a *fix* arm on the same data, seeds and step
budget, stores the per-seed numbers under ``measurements["reproduce"]`` / ``["fix"]`` (lists
indexed like ``measurements["seeds"]``) and maps them to a verdict with :func:`pair_verdict`.

One template (issue 13): arms per seed -> measurements -> tables -> figures -> verdict. Each
experiment also states its claim and a prediction that could fail, and runs a *negative control*:
the same failure detector, with the same thresholds, on a case where the failure should not show
(exact samples, real data, a decoder that cannot ignore z, ...). ``control(m)`` says whether the
detector rejected it; if it did not, :func:`compute.experiments.base.guard` withdraws the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from compute.experiments import figures as draw
from compute.experiments.base import (
    Evidence,
    Experiment,
    ExperimentKind,
    ExperimentResult,
    Scale,
    Table,
    Verdict,
    fmt,
    fmt_pct,
    mean_std,
)

# shared with the unification experiments; re-exported so that every experiment reads common.X
from compute.experiments.base import build_model as build_model
from compute.experiments.base import device as device
from compute.experiments.base import seeds_of as seeds_of


class FailureMode(Experiment):
    """An experiment that pits a *reproduce* configuration against a *fix*, with a negative control.

    Subclasses set ``claim`` (what the node says), ``prediction`` (what the measurement must show,
    a statement that could fail) and ``control_text`` (the negative control), and implement
    ``control(m) -> (rejected, sentence)``: did the failure detector, with the verdict's own
    thresholds, reject the control case in the measurements ``m``?"""

    kind: ClassVar[ExperimentKind] = "failure-mode"
    claim: ClassVar[str] = ""
    prediction: ClassVar[str] = ""
    control_text: ClassVar[str] = ""

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        raise NotImplementedError

    def evidence(self, m: dict[str, Any], verdict: Verdict) -> Evidence:
        rejected, outcome = self.control(m)
        return Evidence(self.claim, self.prediction, verdict.text, self.control_text, outcome, rejected)

    def finish(
        self,
        m: dict[str, Any],
        tables: list[Table],
        params: dict[str, Any],
        figures: dict[str, bytes],
        recipes: list[dict[str, Any]],
    ) -> ExperimentResult:
        """The last step of the template: verdict from ``m``, the evidence record, the result."""
        verdict = self.verdict(m)  # type: ignore[attr-defined]
        return self.result(verdict, tables, m, params, figures, recipes, evidence=self.evidence(m, verdict))


def control_over_seeds(flagged: Sequence[bool], what: str) -> tuple[bool, str]:
    """(rejected, sentence) for a control judged per seed: rejected when the detector fired on no seed."""
    fired = sum(bool(f) for f in flagged)
    n = len(flagged)
    if fired == 0:
        return True, f"rejected on all {n} seed{_s(list(range(n)))}: {what}"
    return False, f"NOT rejected (the detector fired on {fired} of {n} seeds): {what}"


# --------------------------------------------------------------------------------------------
# Training


def fit(
    model: Any,
    dataset: Any,
    *,
    seed: int,
    steps: int,
    batch_size: int | None = None,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Train ``model`` for ``steps`` steps with the shared trainer (no previews, no wall-clock cap)."""
    from compute.trainer import Budget, train

    return train(
        model,
        dataset,
        budget=Budget(steps),
        batch_size=batch_size,
        callbacks=callbacks,
        seed=seed,
        preview_n=0,
        progress_every_s=0.0 if callbacks else 3600.0,
    )


def train_model(
    name: str,
    dataset: Any,
    *,
    seed: int,
    steps: int,
    variant: str | None = None,
    batch_size: int | None = None,
    callbacks: Sequence[Any] = (),
    **overrides: Any,
) -> tuple[Any, Any]:
    """Build family ``name`` for ``dataset`` and train it for ``steps`` steps. Returns (model, "
    "TrainResult)."""
    model = build_model(name, dataset, seed=seed, variant=variant, **overrides)
    return model, fit(model, dataset, seed=seed, steps=steps, batch_size=batch_size, callbacks=callbacks)


def budget(scale: Scale, full_steps: int) -> tuple[int, list[int]]:
    """(training steps, seeds) of both arms at ``scale`` for an experiment of ``full_steps`` at full scale."""
    return scale.steps(full_steps), seeds_of(scale)


class Recorder:
    """Trainer callback: keeps (step, value) of the named losses every ``every`` steps (and every
    non-finite one, so that a NaN is never missed)."""

    def __init__(self, keys: Sequence[str], every: int = 10):
        self.keys, self.every = tuple(keys), max(1, every)
        self.points: dict[str, list[tuple[int, float]]] = {k: [] for k in self.keys}
        self.non_finite_step: int | None = None

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        bad = any(not math.isfinite(v) for v in losses.values())
        if bad and self.non_finite_step is None:
            self.non_finite_step = step
        if step % self.every == 0 or bad:
            for k in self.keys:
                if k in losses:
                    self.points[k].append((step, float(losses[k])))


# --------------------------------------------------------------------------------------------
# Verdicts


def finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def pm(values: Sequence[float | None], digits: int = 2) -> str:
    """'3.10 ± 1.20' over the finite values; '3.10' for one value (never '± 0'); 'n/a' for none
    (:func:`compute.experiments.base.fmt`, the one formatter). The n is stated once per sentence
    by :func:`pair_verdict` and once per table by :func:`metric_table`."""
    return fmt(values, digits, with_n=False)


def pm_pct(fractions: Sequence[float | None], digits: int = 1) -> str:
    """:func:`pm` of fractions shown as percentages ('12.5 ± 3.0 %' for 0.125 ± 0.030)."""
    return fmt_pct(fractions, digits, with_n=False)


@dataclass(frozen=True)
class PairOutcome:
    """Per seed: did the failure show in the reproduce arm, and did the fix beat it?"""

    seeds: list[int]
    failure: list[bool]
    fixed: list[bool]


def pair_verdict(
    outcome: PairOutcome, summary: str, failure_word: str = "the failure", per_mean: int | None = None
) -> Verdict:
    """The generic rule of every reproduce-vs-fix experiment.

    - ``reproduced``: the failure showed on every seed and the fix beat it on every seed;
    - ``not-reproduced``: the failure showed on no seed;
    - ``partly-reproduced``: anything in between; the text names the seeds where the failure did not
      show or where the fix did not beat it, so a page never hides a losing seed.

    ``summary`` carries the measured numbers ("GAN captured 3.1 ± 1.2 of 25 modes; fix ..."); the
    sentence states n once: ``per_mean`` seeds (default: one per outcome).
    """
    n = len(outcome.seeds)
    shown = [s for s, f in zip(outcome.seeds, outcome.failure, strict=True) if f]
    beaten = [s for s, f, x in zip(outcome.seeds, outcome.failure, outcome.fixed, strict=True) if x]
    not_shown = [s for s in outcome.seeds if s not in shown]
    not_beaten = [s for s in outcome.seeds if s not in beaten]
    k = n if per_mean is None else per_mean  # seeds behind each mean in ``summary``
    over = f"n = {k} seed{'s' if k != 1 else ''} per mean"
    if n == 0 or not shown:
        return Verdict(
            "not-reproduced", f"not reproduced: {failure_word} did not show on any seed ({over}); {summary}"
        )
    if len(shown) == n and len(beaten) == n:
        return Verdict("reproduced", f"reproduced on all {n} seeds ({over}): {summary}")
    notes = []
    if not_shown:
        notes.append(f"{failure_word} did not show on seed{_s(not_shown)} {_list(not_shown)}")
    if not_beaten:
        notes.append(f"the fix did not beat it on seed{_s(not_beaten)} {_list(not_beaten)}")
    return Verdict("partly-reproduced", f"partly reproduced ({'; '.join(notes)}; {over}): {summary}")


def verdict_over_seeds(
    m: dict[str, Any], failure: list[bool], fixed: list[bool], summary: str, failure_word: str
) -> Verdict:
    """:func:`pair_verdict` with one outcome per seed of ``m["seeds"]``."""
    return pair_verdict(PairOutcome(list(m["seeds"]), failure, fixed), summary, failure_word)


def _s(items: Sequence[Any]) -> str:
    return "s" if len(items) > 1 else ""


def _list(items: Sequence[Any]) -> str:
    return ", ".join(str(i) for i in items)


def per_seed(m: dict[str, Any], arm: str, key: str) -> list[float]:
    """measurements[arm][key] as floats (NaN for missing/None), one per seed."""
    values = m.get(arm, {}).get(key, [])
    return [float("nan") if v is None else float(v) for v in values]


def both_arms(m: dict[str, Any], key: str) -> tuple[list[float], list[float]]:
    """(:func:`per_seed` of the reproduce arm, of the fix arm) for ``key``."""
    return per_seed(m, "reproduce", key), per_seed(m, "fix", key)


def arm_configs(shared: dict[str, Any], reproduce: dict[str, Any], fix: dict[str, Any]) -> dict[str, Any]:
    """The params entries naming both arms' configurations and what they share."""
    return {"shared": shared, "reproduce": reproduce, "fix": fix}


def arm_recipes(recipe: str, reproduce: dict[str, Any], fix: dict[str, Any]) -> list[dict[str, Any]]:
    """The "run it yourself" entries of the two arms: the same recipe with each arm's config."""
    return [
        {"role": role, "recipe": recipe, "config": config}
        for role, config in (("reproduce", reproduce), ("fix", fix))
    ]


# --------------------------------------------------------------------------------------------
# Tables


def metric_table(
    caption: str,
    m: dict[str, Any],
    rows: Sequence[tuple[str, str, int]],
    labels: tuple[str, str] = ("reproduce", "fix"),
    arms: tuple[str, str] = ("reproduce", "fix"),
) -> Table:
    """Mean ± std over seeds of each (label, key, digits) row for the two arms, side by side."""
    out = []
    for label, key, digits in rows:
        out.append([label, *[pm(per_seed(m, arm, key), digits) for arm in arms]])
    n = len(m.get("seeds", []))
    return Table(f"{caption} (n = {n} seed{'s' if n != 1 else ''} per mean)", ["metric", *labels], out)


def seed_table(
    caption: str, m: dict[str, Any], keys: Sequence[tuple[str, str]], arms=("reproduce", "fix")
) -> Table:
    """One row per (arm, seed) with the raw numbers of ``keys`` ((column label, key) pairs)."""
    rows = []
    for arm in arms:
        for i, seed in enumerate(m.get("seeds", [])):
            row: list[Any] = [arm, seed]
            for _, key in keys:
                vals = m.get(arm, {}).get(key, [])
                v = vals[i] if i < len(vals) else None
                row.append(
                    round(float(v), 4) if isinstance(v, int | float) and math.isfinite(float(v)) else v
                )
            rows.append(row)
    return Table(caption, ["arm", "seed", *[label for label, _ in keys]], rows)


def mean(values: Sequence[float | None]) -> float:
    return mean_std(finite(values))[0] if finite(values) else float("nan")


# --------------------------------------------------------------------------------------------
# Figures


def scatter_panels(panels: Sequence[tuple[str, Any]], dataset: Any, max_points: int = 2500) -> bytes:
    """Side-by-side 2-D scatters of samples (N, 2) over the true density's modes (where known)."""
    from compute.plots import finite_points, square_box

    fig, axes = draw.pyplot().subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8), squeeze=False)
    for ax, (title, samples) in zip(axes[0], panels, strict=True):
        if getattr(dataset, "modes", None) is not None:
            modes = dataset.modes.numpy()
            ax.scatter(modes[:, 0], modes[:, 1], s=60, facecolors="none", edgecolors="#1f77b4", lw=0.8)
        else:
            ref = dataset.test[:2000].numpy()
            ax.scatter(ref[:, 0], ref[:, 1], s=2, c="#9ecae1", alpha=0.5, linewidths=0)
        x = finite_points(samples)[:max_points]
        ax.scatter(x[:, 0], x[:, 1], s=2, c="#d62728", alpha=0.5, linewidths=0)
        square_box(ax, dataset.spec.bounds, ticks=False)
        ax.set_title(title, fontsize=9)
    return draw.to_png(fig)


def digit_panels(panels: Sequence[tuple[str, Any]], nrow: int = 8) -> bytes:
    """Side-by-side nrow x nrow grids of 8x8 digits (N, 1, 8, 8) in [0, 1], the first nrow^2 of each."""
    fig, axes = draw.pyplot().subplots(1, len(panels), figsize=(3.2 * len(panels), 3.5), squeeze=False)
    for ax, (title, imgs) in zip(axes[0], panels, strict=True):
        draw.digits(ax, imgs, title, nrow, rows=nrow)
    return draw.to_png(fig)


def curve_figure(
    series: dict[str, Sequence[Sequence[tuple[float, float]]]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = False,
    logx: bool = False,
    hline: tuple[float, str] | None = None,
    styles: dict[str, tuple[str, str]] | None = None,
) -> bytes:
    """Lines of (x, y) points: one colour per label, one line per seed (same colour, thin).
    ``styles`` may give a label its own (colour, line style)."""
    fig, ax = draw.pyplot().subplots(figsize=(6, 3.6))
    colours = ["#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b"]
    for (label, runs), colour in zip(series.items(), colours * 4, strict=False):
        for i, points in enumerate(runs):
            pts = [(float(x), float(y)) for x, y in points if y is not None and math.isfinite(float(y))]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            colour, ls = (styles or {}).get(label, (colour, "-"))
            ax.plot(
                xs,
                ys,
                color=colour,
                ls=ls,
                lw=1.4,
                alpha=0.85,
                marker="o" if len(xs) < 12 else None,
                ms=3,
                label=label if i == 0 else None,
            )
    if hline is not None:
        ax.axhline(hline[0], color="grey", ls="--", lw=1, label=hline[1])
    if logy:
        ax.set_yscale("symlog" if _has_nonpositive(series) else "log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return draw.to_png(fig)


def _has_nonpositive(series: dict[str, Sequence[Sequence[tuple[float, float]]]]) -> bool:
    return any(
        y is not None and math.isfinite(float(y)) and float(y) <= 0
        for runs in series.values()
        for points in runs
        for _, y in points
    )


def stats_over(values: Callable[[int], float], seeds: Sequence[int]) -> list[float]:
    return [float(values(s)) for s in seeds]
