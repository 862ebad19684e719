"""Results of finished runs: the best and the latest per (recipe, dataset), and the cross-family
comparison on one dataset. Built from `Run` rows whose status is `succeeded` (their metrics,
result, family, recipe, dataset and code_version), and nothing else.

"Best" ranks runs by one metric from `METRICS` (lower or higher is better, as each declares).
With `metric="auto"` every group uses the first metric of `AUTO_ORDER` that its runs report (the
Frechet distance on digits, the sliced Wasserstein distance on 2-D sets, the NLL on text): the
families and datasets do not share one metric, and the answer says which one it used. Runs that
lack the metric rank after those that have it; ties go to the newer run.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db.models import Count, Max

from atlas.content.schema import FAMILIES
from atlas.runs import recipes
from atlas.runs.models import Run, RunStatus


@dataclass(frozen=True)
class Metric:
    name: str
    path: tuple[str, ...]  # keys into Run.metrics (or Run.result when `in_result`)
    better: Literal["lower", "higher"]
    description: str
    in_result: bool = False

    def value(self, run: Run) -> float | None:
        node: Any = run.result if self.in_result else run.metrics
        for key in self.path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        if isinstance(node, bool) or not isinstance(node, int | float) or not math.isfinite(node):
            return None
        return float(node)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "frechet_distance", ("frechet_distance",), "lower", "Frechet distance in the digit feature space"
        ),
        Metric("kid", ("kid",), "lower", "kernel inception distance in the digit feature space"),
        Metric(
            "sliced_wasserstein",
            ("sliced_wasserstein",),
            "lower",
            "sliced Wasserstein distance to fresh data",
        ),
        Metric("mmd2", ("mmd2",), "lower", "squared MMD to fresh data"),
        Metric("energy_distance", ("energy_distance",), "lower", "energy distance to fresh data"),
        Metric("mode_weight_tv", ("mode_weight_tv",), "lower", "TV distance of the mode weights (mixtures)"),
        Metric("hq_fraction", ("hq_fraction",), "higher", "share of samples within 3 std of a mode"),
        Metric("modes_captured", ("modes_captured",), "higher", "modes with a high-quality sample"),
        Metric("precision", ("prdc", "precision"), "higher", "PRDC precision"),
        Metric("recall", ("prdc", "recall"), "higher", "PRDC recall"),
        Metric("coverage", ("prdc", "coverage"), "higher", "PRDC coverage"),
        Metric("nll", ("likelihood", "value"), "lower", "test NLL (unit and kind in metrics.likelihood)"),
        Metric("kl_data_model", ("kl_data_model", "value"), "lower", "KL(p_data || p_model)"),
        Metric("unigram_tv", ("unigram_tv",), "lower", "TV distance of the character unigrams (text)"),
        Metric("class_tv", ("class_tv",), "lower", "TV distance of the predicted digit classes from uniform"),
        Metric("wall_time_s", ("wall_time_s",), "lower", "wall time of the run in seconds", in_result=True),
    )
}
AUTO = "auto"
AUTO_ORDER = ("frechet_distance", "sliced_wasserstein", "nll", "unigram_tv")
METRIC_CHOICES = (AUTO, *METRICS)
DATASETS = tuple(sorted({name for recipe in recipes.RECIPES for name in recipe.datasets}))
RECIPE_SLUGS = tuple(recipe.slug for recipe in recipes.RECIPES)
FIELDS = (
    "id",
    "public_id",
    "recipe",
    "model",
    "family",
    "dataset",
    "config",
    "seed",
    "code_version",
    "metrics",
    "result",
    "created_at",
    "finished_at",
)


@dataclass
class Scored:
    run: Run
    metric: Metric | None
    value: float | None

    def sort_key(self) -> tuple:
        """Ascending = best first: runs with a value, then by value, then newest."""
        if self.value is None or self.metric is None:
            return (1, 0.0, *_newest_first(self.run))
        signed = self.value if self.metric.better == "lower" else -self.value
        return (0, signed, *_newest_first(self.run))


@dataclass
class Group:
    recipe: str
    dataset: str
    family: str
    model: str
    runs: int
    metric: Metric | None
    best: Scored
    latest: Scored
    code_versions: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    dataset: str
    metric_name: str
    entries: list[tuple[int, Scored, int]]  # (rank, best run of the family, runs of the family)
    missing: list[str]


def _newest_first(run: Run) -> tuple:
    finished = run.finished_at.timestamp() if run.finished_at else 0.0
    return (-finished, -run.id)


def succeeded(
    *, recipe: str | None = None, dataset: str | None = None, family: str | None = None
) -> list[Run]:
    queryset = Run.objects.filter(status=RunStatus.SUCCEEDED)
    for name, value in (("recipe", recipe), ("dataset", dataset), ("family", family)):
        if value:
            queryset = queryset.filter(**{name: value})
    return list(queryset.only(*FIELDS).order_by("recipe", "dataset", "-finished_at", "-id"))


def choose_metric(runs: Iterable[Run], name: str) -> Metric | None:
    """The metric named, or for "auto" the first of AUTO_ORDER that any of the runs reports."""
    if name != AUTO:
        return METRICS[name]
    runs = list(runs)
    for candidate in AUTO_ORDER:
        metric = METRICS[candidate]
        if any(metric.value(run) is not None for run in runs):
            return metric
    return None


def rank(runs: Iterable[Run], metric: Metric | None) -> list[Scored]:
    scored = [Scored(run, metric, metric.value(run) if metric else None) for run in runs]
    return sorted(scored, key=Scored.sort_key)


def best_and_latest(
    *,
    recipe: str | None = None,
    dataset: str | None = None,
    family: str | None = None,
    metric: str = AUTO,
) -> list[Group]:
    """One group per (recipe, dataset) with succeeded runs, ordered by recipe then dataset."""
    grouped: dict[tuple[str, str], list[Run]] = {}
    for run in succeeded(recipe=recipe, dataset=dataset, family=family):
        grouped.setdefault((run.recipe, run.dataset), []).append(run)
    groups = []
    for (recipe_slug, dataset_name), runs in sorted(grouped.items()):
        chosen = choose_metric(runs, metric)
        ranked = rank(runs, chosen)
        latest = min(runs, key=_newest_first)
        groups.append(
            Group(
                recipe=recipe_slug,
                dataset=dataset_name,
                family=latest.family,
                model=latest.model,
                runs=len(runs),
                metric=chosen,
                best=ranked[0],
                latest=Scored(latest, chosen, chosen.value(latest) if chosen else None),
                code_versions=sorted({run.code_version for run in runs}),
            )
        )
    return groups


def compare(dataset: str, metric: str = AUTO) -> Comparison:
    """The best succeeded run of every family on `dataset`, ranked by one metric shared by all.

    With "auto" the metric is chosen once for the whole dataset (not per family), so the ranks
    compare like with like; families whose best run lacks it rank last.
    """
    runs = succeeded(dataset=dataset)
    chosen = choose_metric(runs, metric)
    by_family: dict[str, list[Run]] = {}
    for run in runs:
        by_family.setdefault(run.family, []).append(run)
    bests = sorted(
        ((rank(family_runs, chosen)[0], len(family_runs)) for family_runs in by_family.values()),
        key=lambda pair: (*pair[0].sort_key(), pair[0].run.family),
    )
    entries = [(position + 1, scored, count) for position, (scored, count) in enumerate(bests)]
    missing = [name for name in FAMILIES if name not in by_family]
    return Comparison(
        dataset=dataset, metric_name=chosen.name if chosen else "", entries=entries, missing=missing
    )


def version() -> tuple[str, datetime | None]:
    """(a digest that changes whenever the set of succeeded runs changes, the newest finish time)."""
    stats = Run.objects.filter(status=RunStatus.SUCCEEDED).aggregate(
        n=Count("id"), last_id=Max("id"), last=Max("finished_at")
    )
    key = f"{stats['n']}:{stats['last_id']}:{stats['last']}"
    return hashlib.sha256(key.encode()).hexdigest()[:32], stats["last"]
