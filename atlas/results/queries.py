"""The queries of `/api/results/`: best and latest run per recipe and dataset, the cross-family
comparison on one dataset, and the version that validates their answers.

`best_and_latest` ranks single succeeded runs (any config, on the board or promoted): "best" is
one run ranked by one metric. With "auto" a group uses the first metric of AUTO_ORDER that its
runs report, because the data kinds share no metric (Fréchet distance on digits, sliced
Wasserstein on 2-D sets, NLL on text).

`compare` on a board dataset ranks the board's own rows (`atlas.results.aggregate.build`: seed
means of the board's configurations, complete rows only), so the API and `/results/<dataset>/`
never disagree; on any other dataset it ranks the best succeeded run of each family.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from django.db.models import Count, Max

from atlas.content.schema import FAMILIES
from atlas.results import aggregate
from atlas.results.aggregate import RUN_FIELDS
from atlas.results.boards import BOARDS
from atlas.results.metrics import METRICS, Metric
from atlas.runs.models import Run, RunStatus

AUTO = "auto"
AUTO_ORDER = ("frechet_distance", "sliced_wasserstein", "nll", "unigram_tv")


@dataclass
class Scored:
    run: Run
    metric: Metric | None
    value: float | None

    @classmethod
    def of(cls, run: Run, metric: Metric | None) -> Scored:
        return cls(run, metric, metric.value(run) if metric else None)

    def sort_key(self) -> tuple:
        """Ascending = best first: runs with a value, then by value, then newest."""
        if self.value is None or self.metric is None:
            return (1, 0.0, *_newest_first(self.run))
        return (0, self.metric.signed(self.value), *_newest_first(self.run))


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
class RowScore:
    """A board row as the comparison ranked it: the mean ± sample std of the metric over its seeds."""

    key: str
    label: str
    mean: float | None
    std: float | None
    seeds: list[int]


@dataclass
class Ranked:
    rank: int  # 1 = best; ties share the better rank on a board
    family: str
    runs: int  # the runs behind the entry: a board row's seeds, or the family's succeeded runs
    best: Scored  # the entry's best run by the metric
    row: RowScore | None = None  # the board row ranked (None off the boards)


@dataclass
class Comparison:
    dataset: str
    metric: Metric | None
    entries: list[Ranked]
    missing: list[str]
    source: Literal["board", "runs"] = "runs"

    @property
    def metric_key(self) -> str:
        return self.metric.key if self.metric else ""

    @property
    def better(self) -> str | None:
        return self.metric.better if self.metric else None


def _newest_first(run: Run) -> tuple:
    finished = run.finished_at.timestamp() if run.finished_at else 0.0
    return (-finished, -run.id)


def succeeded(
    *, recipe: str | None = None, dataset: str | None = None, family: str | None = None
) -> list[Run]:
    queryset = Run.objects.filter(status=RunStatus.SUCCEEDED, on_board=True)
    for name, value in (("recipe", recipe), ("dataset", dataset), ("family", family)):
        if value:
            queryset = queryset.filter(**{name: value})
    return list(queryset.only(*RUN_FIELDS).order_by("recipe", "dataset", "-finished_at", "-id"))


def choose_metric(runs: Iterable[Run], name: str) -> Metric | None:
    """The metric named, or for "auto" the first of AUTO_ORDER that any of the runs reports."""
    if name != AUTO:
        return METRICS[name]
    runs = list(runs)
    return next(
        (METRICS[key] for key in AUTO_ORDER if any(METRICS[key].value(run) is not None for run in runs)),
        None,
    )


def best_run(runs: Iterable[Run], metric: Metric | None) -> Scored:
    """The best of the runs by the metric; runs lacking it come last, ties go to the newer run."""
    return min((Scored.of(run, metric) for run in runs), key=Scored.sort_key)


def best_and_latest(
    *, recipe: str | None = None, dataset: str | None = None, family: str | None = None, metric: str = AUTO
) -> list[Group]:
    """One group per (recipe, dataset) with succeeded runs, ordered by recipe then dataset."""
    grouped: dict[tuple[str, str], list[Run]] = {}
    for run in succeeded(recipe=recipe, dataset=dataset, family=family):
        grouped.setdefault((run.recipe, run.dataset), []).append(run)
    return [_group(recipe_slug, name, runs, metric) for (recipe_slug, name), runs in sorted(grouped.items())]


def _group(recipe_slug: str, dataset: str, runs: list[Run], metric_name: str) -> Group:
    chosen = choose_metric(runs, metric_name)
    latest = min(runs, key=_newest_first)
    return Group(
        recipe=recipe_slug,
        dataset=dataset,
        family=latest.family,
        model=latest.model,
        runs=len(runs),
        metric=chosen,
        best=best_run(runs, chosen),
        latest=Scored.of(latest, chosen),
        code_versions=sorted({run.code_version for run in runs}),
    )


def compare(dataset: str, metric: str = AUTO) -> Comparison:
    """Every family on `dataset` ranked by one metric shared by all.

    On a board dataset the ranking is the board's (`aggregate.build`): its complete rows, by the
    seed mean of the board's configuration, so the API never disagrees with `/results/<dataset>/`.
    Elsewhere, the best succeeded run of each family. With "auto" the metric is chosen once for
    the whole dataset (not per family), so the ranks compare like with like; entries lacking it
    rank last.
    """
    if dataset in BOARDS:
        return board_comparison(aggregate.build(dataset), metric)
    runs = succeeded(dataset=dataset)
    chosen = choose_metric(runs, metric)
    by_family: dict[str, list[Run]] = {}
    for run in runs:
        by_family.setdefault(run.family, []).append(run)
    bests = sorted(
        ((best_run(family_runs, chosen), len(family_runs)) for family_runs in by_family.values()),
        key=lambda pair: (*pair[0].sort_key(), pair[0].run.family),
    )
    entries = [
        Ranked(position + 1, scored.run.family, count, scored)
        for position, (scored, count) in enumerate(bests)
    ]
    missing = [name for name in FAMILIES if name not in by_family]
    return Comparison(dataset=dataset, metric=chosen, entries=entries, missing=missing)


def board_comparison(board: aggregate.Board, metric: str = AUTO) -> Comparison:
    """The board's ranking under one metric: only complete rows (every seed succeeded), with the
    board's ranks (ties shared); complete rows without a value of the metric come last."""
    complete = [row for row in board.rows if row.complete]
    chosen = choose_metric((run for row in board.rows for run in row.runs), metric)
    key = chosen.key if chosen else ""
    ranked = [row for row in board.ranking(key) if row.complete] if board.metric(key) else complete
    last = 1 + sum(1 for row in ranked if _rank_of(row, key) is not None)
    entries = [_ranked(row, chosen, _rank_of(row, key) or last) for row in ranked]
    present = {row.family for row in complete}
    missing = [name for name in FAMILIES if name not in present]
    return Comparison(board.dataset, chosen, entries, missing, source="board")


def _rank_of(row: aggregate.Row, key: str) -> int | None:
    cell = row.cell(key)
    return cell.rank if cell else None


def _ranked(row: aggregate.Row, metric: Metric | None, rank: int) -> Ranked:
    cell = row.cell(metric.key) if metric else None
    score = RowScore(
        row.key, row.label, cell.stat.mean if cell else None, cell.stat.std if cell else None, row.seeds
    )
    return Ranked(rank, row.family, len(row.runs), best_run(row.runs, metric), score)


def results_version() -> tuple[str, datetime | None]:
    """(a digest that changes whenever the set of succeeded runs changes, the newest finish time)."""
    stats = Run.objects.filter(status=RunStatus.SUCCEEDED, on_board=True).aggregate(
        n=Count("id"), last_id=Max("id"), last=Max("finished_at")
    )
    key = f"{stats['n']}:{stats['last_id']}:{stats['last']}"
    return hashlib.sha256(key.encode()).hexdigest()[:32], stats["last"]
