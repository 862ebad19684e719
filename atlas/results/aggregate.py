"""A board's numbers: per entry and metric the mean ± sample std over the seeds, the rankings and
how much the metrics disagree.

`build` reads only `Run` rows whose config hash a board plan names (see `atlas.results.boards`),
so the board shows exactly the runs `manage.py results refresh` requested. Mean ± sample std over
the seeds whose run succeeded. An entry with no succeeded run under the current code falls back
to its runs of the latest older code version that has any, marked stale. Two queries per board.

Rankings: per metric, best first (ties share a rank); only rows with every seed are ranked. How
much they disagree: Kendall's τ (`scipy.stats.kendalltau`, τ-b) between each pair of metrics, and
per entry the metrics that favour it (its best normalised rank) and disfavour it (its worst).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from scipy import stats

from atlas.results.boards import BOARDS, DEFAULT_SEEDS, FAMILY_NAMES, BoardSpec, Plan, plan, seeds_of
from atlas.results.metrics import COST_METRICS, LIKELIHOOD_LABELS, Metric, fmt, fmt_std
from atlas.runs.models import ACTIVE_STATES, Run, RunStatus
from compute.version import code_version

STALE_LIMIT = 1000  # older-version runs read per board (bounded)


@dataclass
class Stat:
    values: list[tuple[int, float, str]]  # (seed, value, run public id)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(v for _, v, _ in self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (n − 1); None below two seeds."""
        return statistics.stdev([v for _, v, _ in self.values]) if self.n >= 2 else None


@dataclass
class Cell:
    metric: Metric
    stat: Stat
    rank: int | None = None
    ranked: int = 0  # how many rows this metric ranks

    @property
    def text(self) -> str:
        if self.stat.mean is None:
            return "—"
        if self.stat.std is None:
            return fmt(self.stat.mean)
        return f"{fmt(self.stat.mean)} ± {fmt_std(self.stat.mean, self.stat.std)}"


# The columns every results query here reads (boards and /api/results/ alike).
RUN_FIELDS = (
    "id",
    "public_id",
    "recipe",
    "model",
    "family",
    "dataset",
    "config",
    "seed",
    "status",
    "code_version",
    "config_hash",
    "metrics",
    "result",
    "created_at",
    "finished_at",
    "samples_png",
    "on_board",
)


@dataclass
class Row:
    plan: Plan
    runs: list[Run] = field(default_factory=list)  # the succeeded runs aggregated, by seed
    stale: bool = False
    active: int = 0
    failed: int = 0
    timed_out: int = 0
    cells: dict[str, Cell] = field(default_factory=dict)
    favoured: list[str] = field(default_factory=list)
    disfavoured: list[str] = field(default_factory=list)
    favoured_cells: list[Cell] = field(default_factory=list)
    disfavoured_cells: list[Cell] = field(default_factory=list)
    consistent: bool = False

    @property
    def key(self) -> str:
        return self.plan.key

    @property
    def family(self) -> str:
        return self.plan.entry.family

    @property
    def family_name(self) -> str:
        return FAMILY_NAMES.get(self.family, self.family)

    @property
    def label(self) -> str:
        return self.plan.entry.label

    @property
    def has_demo(self) -> bool:
        return self.plan.recipe is not None

    @property
    def seeds(self) -> list[int]:
        return sorted(run.seed for run in self.runs)

    @property
    def missing_seeds(self) -> list[int]:
        done = set(self.seeds)
        return [p.seed for p in self.plan.runs if p.seed not in done]

    @property
    def complete(self) -> bool:
        """Every seed of the board succeeded: only such rows are ranked and compared."""
        return bool(self.runs) and not self.missing_seeds

    @property
    def likelihood_kind(self) -> str:
        kinds = {((run.metrics or {}).get("likelihood") or {}).get("kind") for run in self.runs} - {None}
        if not kinds:
            return ""
        return "/".join(sorted(LIKELIHOOD_LABELS.get(k, k) for k in kinds))

    @property
    def likelihood_unit(self) -> str:
        for run in self.runs:
            unit = ((run.metrics or {}).get("likelihood") or {}).get("unit")
            if unit:
                return unit
        return ""

    @property
    def devices(self) -> str:
        return ", ".join(sorted({str((run.result or {}).get("device", "?")) for run in self.runs}))

    @property
    def code_versions(self) -> list[str]:
        return sorted({run.code_version for run in self.runs})

    @property
    def produced(self) -> tuple[datetime | None, datetime | None]:
        times = [run.finished_at for run in self.runs if run.finished_at]
        return (min(times), max(times)) if times else (None, None)

    @property
    def sample_run(self) -> Run | None:
        """The lowest-seed run that saved a sample figure."""
        return next((run for run in sorted(self.runs, key=lambda r: r.seed) if run.samples_png), None)

    def cell(self, key: str) -> Cell | None:
        return self.cells.get(key)


@dataclass
class Agreement:
    a: Metric
    b: Metric
    tau: float
    n: int


@dataclass
class Board:
    spec: BoardSpec
    seeds: list[int]
    version: str
    rows: list[Row]
    metrics: tuple[Metric, ...]
    cost_metrics: tuple[Metric, ...] = COST_METRICS
    agreements: list[Agreement] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        return self.spec.dataset

    @property
    def all_metrics(self) -> tuple[Metric, ...]:
        return (*self.metrics, *self.cost_metrics)

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.all_metrics if m.key == key), None)

    @property
    def filled(self) -> list[Row]:
        return [row for row in self.rows if row.runs]

    @property
    def runs_used(self) -> int:
        return sum(len(row.runs) for row in self.rows)

    @property
    def active(self) -> int:
        return sum(row.active for row in self.rows)

    @property
    def any_stale(self) -> bool:
        return any(row.stale for row in self.rows)

    @property
    def last_produced(self) -> datetime | None:
        times = [row.produced[1] for row in self.rows if row.produced[1]]
        return max(times) if times else None

    def ranking(self, key: str) -> list[Row]:
        """Rows ranked by the metric, best first; rows without a value last (in board order)."""
        metric = self.metric(key)
        if metric is None:
            raise KeyError(key)
        with_value = [row for row in self.rows if _mean(row, key) is not None]
        with_value.sort(key=lambda row: metric.signed(_mean(row, key)))
        return with_value + [row for row in self.rows if _mean(row, key) is None]

    def leaders(self) -> list[tuple[Metric, list[Row]]]:
        """Per quality metric, the rows ranked first."""
        out = []
        for metric in self.metrics:
            first = [row for row in self.rows if (c := row.cell(metric.key)) and c.rank == 1]
            if first:
                out.append((metric, first))
        return out

    @property
    def distinct_leaders(self) -> int:
        return len({row.key for _, rows in self.leaders() for row in rows})

    @property
    def most_disagreeing(self) -> Agreement | None:
        usable = [a for a in self.agreements if a.n >= 3]
        return min(usable, key=lambda a: a.tau) if usable else None

    @property
    def mean_tau(self) -> float | None:
        usable = [a.tau for a in self.agreements if a.n >= 3]
        return statistics.fmean(usable) if usable else None


def _mean(row: Row, key: str) -> float | None:
    cell = row.cells.get(key)
    return cell.stat.mean if cell else None


def build(dataset: str, seeds: int = DEFAULT_SEEDS, *, version: str | None = None) -> Board:
    """The board of ``dataset`` (a key of BOARDS) from the database: at most two queries."""
    spec = BOARDS[dataset]
    version = version or code_version()
    seed_list = seeds_of(seeds)
    plans = plan(spec, seed_list, version)
    by_hash = {p.config_hash: (plan_, p) for plan_ in plans for p in plan_.runs}
    rows = {plan_.key: Row(plan_) for plan_ in plans}
    current = (
        Run.objects.filter(config_hash__in=list(by_hash), on_board=True)
        .only(*RUN_FIELDS)
        .order_by("seed", "-id")
    )
    chosen: dict[tuple[str, int], Run] = {}
    for run in current:
        plan_, _ = by_hash[run.config_hash]
        row = rows[plan_.key]
        if run.status == RunStatus.SUCCEEDED:
            chosen.setdefault((plan_.key, run.seed), run)
        elif run.status in ACTIVE_STATES:
            row.active += 1
        elif run.status == RunStatus.TIMED_OUT:
            row.timed_out += 1
        elif run.status == RunStatus.FAILED:
            row.failed += 1
    for (key, _), run in chosen.items():
        rows[key].runs.append(run)
    _fill_stale(
        [row for row in rows.values() if not row.runs and row.plan.runs], spec.dataset, seed_list, version
    )
    for row in rows.values():
        row.runs.sort(key=lambda r: r.seed)
        for metric in (*spec.metrics, *COST_METRICS):
            values = [
                (run.seed, v, str(run.public_id)) for run in row.runs if (v := metric.value(run)) is not None
            ]
            row.cells[metric.key] = Cell(metric, Stat(values))
    ordered = list(rows.values())
    complete = [row for row in ordered if row.complete]  # a row is ranked only with all its seeds
    _rank(complete, (*spec.metrics, *COST_METRICS))
    _favour(complete, spec.metrics)
    return Board(
        spec, seed_list, version, ordered, spec.metrics, agreements=_agreements(ordered, spec.metrics)
    )


def _fill_stale(rows: list[Row], dataset: str, seeds: list[int], version: str) -> None:
    """Rows without a current run: the runs of the newest older code version with the same config."""
    if not rows:
        return
    wanted = {
        (row.plan.recipe.slug, p.seed): (row, p.config)
        for row in rows
        for p in row.plan.runs
        if row.plan.recipe
    }
    older = (
        Run.objects.filter(
            status=RunStatus.SUCCEEDED,
            on_board=True,
            dataset=dataset,
            recipe__in=sorted({slug for slug, _ in wanted}),
            seed__in=seeds,
        )
        .exclude(code_version=version)
        .only(*RUN_FIELDS)
        .order_by("-finished_at", "-id")[:STALE_LIMIT]
    )
    newest_version: dict[str, str] = {}
    picked: dict[tuple[str, int], Run] = {}
    for run in older:
        match = wanted.get((run.recipe, run.seed))
        if match is None or run.config != match[1]:
            continue
        row = match[0]
        newest_version.setdefault(row.key, run.code_version)  # ordered newest first
        if run.code_version == newest_version[row.key]:
            picked.setdefault((row.key, run.seed), run)
    for row in rows:
        row.runs = [run for (key, _), run in picked.items() if key == row.key]
        row.stale = bool(row.runs)


def _rank(rows: list[Row], metrics: Iterable[Metric]) -> None:
    for metric in metrics:
        scored = [(row, row.cells[metric.key].stat.mean) for row in rows]
        scored = [(row, v) for row, v in scored if v is not None]
        signed = [metric.signed(v) for _, v in scored]
        for row, s in zip((r for r, _ in scored), signed, strict=True):
            cell = row.cells[metric.key]
            cell.rank = 1 + sum(other < s for other in signed)  # ties share the better rank
            cell.ranked = len(scored)


def _favour(rows: list[Row], metrics: Iterable[Metric]) -> None:
    """Per row: the quality metrics where its normalised rank is best (favoured) and worst."""
    metrics = list(metrics)
    for row in rows:
        positions = {}
        for metric in metrics:
            cell = row.cells[metric.key]
            if cell.rank is not None and cell.ranked >= 2:
                positions[metric.key] = (cell.rank - 1) / (cell.ranked - 1)
        if not positions:
            continue
        best, worst = min(positions.values()), max(positions.values())
        if math.isclose(best, worst):
            row.consistent = len(positions) >= 2
            continue
        row.favoured = [k for k, p in positions.items() if math.isclose(p, best)]
        row.disfavoured = [k for k, p in positions.items() if math.isclose(p, worst)]
        row.favoured_cells = [row.cells[k] for k in row.favoured]
        row.disfavoured_cells = [row.cells[k] for k in row.disfavoured]


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall's τ-b of two paired lists (ties handled); 0 when either is constant (where scipy
    answers NaN: no ordering to agree with)."""
    tau = stats.kendalltau(x, y).statistic
    return 0.0 if math.isnan(tau) else float(tau)


def _agreements(rows: list[Row], metrics: Iterable[Metric]) -> list[Agreement]:
    metrics = list(metrics)
    out = []
    for i, a in enumerate(metrics):
        for b in metrics[i + 1 :]:
            pairs = [
                (row.cells[a.key].rank, row.cells[b.key].rank)
                for row in rows
                if row.cells[a.key].rank is not None and row.cells[b.key].rank is not None
            ]
            if len(pairs) >= 2:
                tau = kendall_tau([float(p) for p, _ in pairs], [float(q) for _, q in pairs])
                out.append(Agreement(a, b, tau, len(pairs)))
    return out
