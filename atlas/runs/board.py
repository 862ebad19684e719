"""The results board: every family on the same data, with the same metrics, over the same seeds.

A board is defined per dataset (`BOARDS`): one entry per family model that supports the data
(the flow family has two, RealNVP and flow matching), each naming the recipe(s) that may run it
and the config overrides that make it the standard board configuration. An entry whose recipe does
not exist yet (or does not accept the dataset) is shown as "no demo yet".

The numbers come only from `Run` rows: for each entry and seed the canonical config and its hash
under the current code version (the same hash `services.request_run` dedups by), so the board
reads exactly the runs `manage.py results refresh` requested. Mean ± sample std over the seeds
whose run succeeded. An entry with no succeeded run under the current code falls back to its runs
of the latest older code version that has any, marked stale. Two queries per board.

Rankings: per metric, best first (ties share a rank). How much they disagree: Kendall's τ between
each pair of metrics, and per entry the metrics that favour it (its best normalised rank) and
disfavour it (its worst).

The same metric catalogue and ordering also answer `/api/results/` (`best_and_latest`, `compare`):
there single succeeded runs of any config are ranked, not seed means of the board's configs.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any, Literal

from django.db.models import Count, Max

from atlas.content.schema import FAMILIES
from atlas.graph import families
from atlas.results import sweep, targets
from atlas.runs import recipes, services
from atlas.runs.models import ACTIVE_STATES, Run, RunStatus
from compute.families.base import LIKELIHOOD_KIND_LABELS
from compute.version import code_version

DEFAULT_SEEDS = 3
MAX_SEEDS = 10
STALE_LIMIT = 1000  # older-version runs read per board (bounded)
FAMILY_ORDER = FAMILIES  # the content's fixed order of the six families
FAMILY_NAMES = families.NAMES  # the one list of the families' names and colours
LIKELIHOOD_LABELS = LIKELIHOOD_KIND_LABELS  # one rule for every family (compute/families/base.py)


# --- what a board shows ------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Candidate:
    recipe: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    key: str  # unique on its board, used in URLs, CSV and JSON
    family: str
    label: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class BoardSpec:
    dataset: str
    title: str
    kind: Literal["points2d", "image"]
    description: str
    entries: tuple[Entry, ...]

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return POINT_METRICS if self.kind == "points2d" else IMAGE_METRICS


def _points_entries() -> tuple[Entry, ...]:
    budget = {"stop": "budget"}  # board runs train their fixed budget; demos may stop when converged
    return (
        Entry("vae", "vae", "VAE", (Candidate("vae-2d", {"variant": "gaussian", **budget}),)),
        Entry("gan", "gan", "GAN", (Candidate("gan-2d", {"variant": "non-saturating", **budget}),)),
        Entry("diffusion", "diffusion", "DDPM", (Candidate("ddpm-2d", budget),)),
        Entry("realnvp", "flow", "RealNVP", (Candidate("realnvp-2d", budget),)),
        Entry("flow-matching", "flow", "Flow matching", (Candidate("flow-matching-2d", budget),)),
        Entry("ebm", "ebm", "EBM (DSM)", (Candidate("ebm-dsm-2d", budget),)),
        Entry("autoregressive", "autoregressive", "AR over bins", (Candidate("ar-grid-2d", budget),)),
    )


BOARDS: dict[str, BoardSpec] = {
    spec.dataset: spec
    for spec in (
        BoardSpec(
            "ring8",
            "Ring of 8 Gaussians",
            "points2d",
            "Eight well-separated modes on a circle: mode dropping shows at once.",
            _points_entries(),
        ),
        BoardSpec(
            "grid25",
            "Grid of 25 Gaussians",
            "points2d",
            "A 5×5 grid of narrow modes: harder coverage, and thin regions between modes.",
            _points_entries(),
        ),
        BoardSpec(
            "digits",
            "8×8 digits",
            "image",
            "The UCI handwritten digits at 8×8 with 17 grey levels; metrics in a small digit feature space.",
            (
                Entry(
                    "vae",
                    "vae",
                    "VAE (β = 1)",
                    (Candidate("vae-digits"), Candidate("beta-vae-digits", {"beta": 1.0})),
                ),
                Entry("gan", "gan", "GAN", (Candidate("gan-digits"),)),
                Entry(
                    "diffusion",
                    "diffusion",
                    "Diffusion (unguided)",
                    (Candidate("ddpm-digits"), Candidate("cfg-digits", {"guidance": 0.0})),
                ),
                Entry("realnvp", "flow", "RealNVP", (Candidate("realnvp-digits"),)),
                Entry("flow-matching", "flow", "Flow matching", (Candidate("flow-matching-digits"),)),
                Entry("ebm", "ebm", "EBM", (Candidate("ebm-digits"),)),
                Entry("autoregressive", "autoregressive", "MADE", (Candidate("made-digits"),)),
            ),
        ),
    )
}


# --- planning: the configs a board needs ---------------------------------------------------------


@dataclass(frozen=True)
class PlannedRun:
    seed: int
    config: dict[str, Any]  # canonical (every parameter)
    config_hash: str  # under the current code version
    raw: dict[str, Any]  # what to pass to services.request_run


@dataclass(frozen=True)
class Plan:
    entry: Entry
    recipe: recipes.Recipe | None  # None: no demo yet
    overrides: dict[str, Any]
    runs: tuple[PlannedRun, ...]

    @property
    def key(self) -> str:
        return self.entry.key


def seeds_of(n: int = DEFAULT_SEEDS) -> list[int]:
    return list(range(max(1, min(int(n), MAX_SEEDS))))


def resolve(entry: Entry, dataset: str) -> tuple[recipes.Recipe | None, dict[str, Any]]:
    """The entry's recipe and board configuration: the candidate's overrides, then the published
    equal-effort sweep's choice for this board (atlas/results/sweep.py) when there is one."""
    recipe, overrides = resolve_candidate(entry, dataset)
    if recipe is None:
        return None, {}
    tuned = sweep.chosen(dataset, entry.key)
    if tuned and not recipe.validate({**overrides, **tuned, "dataset": dataset})[1]:
        overrides = {**overrides, **tuned}
    return recipe, overrides


def resolve_candidate(entry: Entry, dataset: str) -> tuple[recipes.Recipe | None, dict[str, Any]]:
    """The first candidate recipe that exists, accepts the dataset and validates the overrides."""
    for candidate in entry.candidates:
        try:
            recipe = recipes.get(candidate.recipe)
        except KeyError:
            continue
        if dataset not in recipe.datasets:
            continue
        _, errors = recipe.validate({**candidate.overrides, "dataset": dataset})
        if not errors:
            return recipe, dict(candidate.overrides)
    return None, {}


def plan(spec: BoardSpec, seeds: Iterable[int], version: str | None = None) -> list[Plan]:
    version = version or code_version()
    plans = []
    for entry in spec.entries:
        recipe, overrides = resolve(entry, spec.dataset)
        runs: list[PlannedRun] = []
        if recipe is not None:
            for seed in seeds:
                raw = {**overrides, "dataset": spec.dataset, "seed": seed}
                config, _ = recipe.validate(raw)
                runs.append(
                    PlannedRun(seed, config, services.canonical_hash(recipe.slug, config, version), raw)
                )
        plans.append(Plan(entry, recipe, overrides, tuple(runs)))
    return plans


def enlist(run: Run) -> None:
    """The run counts on its board (requested by `results refresh`, or an identical run reused)."""
    if not run.on_board:
        Run.objects.filter(pk=run.pk).update(on_board=True)
        run.on_board = True


# --- aggregation ----------------------------------------------------------------------------------


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


def fmt(value: float | None) -> str:
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
    """Kendall's τ-b of two paired lists (ties handled); 0 when either is constant."""
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else 0.0


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


# --- run-level results (/api/results/) -----------------------------------------------------------
# Any succeeded run counts here, whatever its config: "best" is one run ranked by one metric. With
# "auto" a group uses the first metric of AUTO_ORDER that its runs report, because the data kinds
# share no metric (Frechet distance on digits, sliced Wasserstein on 2-D sets, NLL on text).

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
class Comparison:
    dataset: str
    metric: Metric | None
    entries: list[tuple[int, Scored, int]]  # (rank, best run of the family, runs of the family)
    missing: list[str]


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
        ((best_run(family_runs, chosen), len(family_runs)) for family_runs in by_family.values()),
        key=lambda pair: (*pair[0].sort_key(), pair[0].run.family),
    )
    entries = [(position + 1, scored, count) for position, (scored, count) in enumerate(bests)]
    missing = [name for name in FAMILIES if name not in by_family]
    return Comparison(dataset=dataset, metric=chosen, entries=entries, missing=missing)


def results_version() -> tuple[str, datetime | None]:
    """(a digest that changes whenever the set of succeeded runs changes, the newest finish time)."""
    stats = Run.objects.filter(status=RunStatus.SUCCEEDED, on_board=True).aggregate(
        n=Count("id"), last_id=Max("id"), last=Max("finished_at")
    )
    key = f"{stats['n']}:{stats['last_id']}:{stats['last']}"
    return hashlib.sha256(key.encode()).hexdigest()[:32], stats["last"]


# --- exports --------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def as_json(board: Board) -> dict[str, Any]:
    return {
        "dataset": board.dataset,
        "title": board.spec.title,
        "kind": board.spec.kind,
        "code_version": board.version,
        "seeds": board.seeds,
        "aggregation": "mean and sample standard deviation (n - 1) over the seeds whose run succeeded",
        "metrics": [
            {
                "key": m.key,
                "label": m.label,
                "better": m.better,
                "description": m.description,
                "quality": m.quality,
            }
            for m in board.all_metrics
        ],
        "rows": [
            {
                "key": row.key,
                "family": row.family,
                "label": row.label,
                "recipe": row.plan.recipe.slug if row.plan.recipe else None,
                "overrides": row.plan.overrides,
                "has_demo": row.has_demo,
                "seeds": row.seeds,
                "missing_seeds": row.missing_seeds,
                "stale": row.stale,
                "code_versions": row.code_versions,
                "produced": {"first": _iso(row.produced[0]), "last": _iso(row.produced[1])},
                "likelihood": {"kind": row.likelihood_kind or None, "unit": row.likelihood_unit or None},
                "device": row.devices or None,
                "status": {"active": row.active, "failed": row.failed, "timed_out": row.timed_out},
                "metrics": {
                    key: {
                        "mean": cell.stat.mean,
                        "std": cell.stat.std,
                        "n": cell.stat.n,
                        "rank": cell.rank,
                        "values": [{"seed": s, "value": v, "run": r} for s, v, r in cell.stat.values],
                    }
                    for key, cell in row.cells.items()
                },
                "favoured_by": row.favoured,
                "disfavoured_by": row.disfavoured,
            }
            for row in board.rows
        ],
        "rankings": {
            m.key: [row.key for row in board.ranking(m.key) if row.cell(m.key).rank]
            for m in board.all_metrics
        },
        "agreement": [{"a": g.a.key, "b": g.b.key, "kendall_tau": g.tau, "n": g.n} for g in board.agreements],
        "targets": [check.as_dict() for check in targets.check(board)],
        "tuning": sweep.summary(board.dataset),
    }


def csv_rows(board: Board) -> list[list[Any]]:
    header = [
        "dataset",
        "key",
        "family",
        "label",
        "recipe",
        "seeds",
        "stale",
        "code_versions",
        "first_produced",
        "last_produced",
        "likelihood_kind",
        "likelihood_unit",
        "device",
    ]
    for m in board.all_metrics:
        header += [f"{m.key}_mean", f"{m.key}_std", f"{m.key}_n", f"{m.key}_rank"]
    out: list[list[Any]] = [header]
    for row in board.rows:
        line: list[Any] = [
            board.dataset,
            row.key,
            row.family,
            row.label,
            row.plan.recipe.slug if row.plan.recipe else "",
            " ".join(map(str, row.seeds)),
            "yes" if row.stale else "no",
            " ".join(row.code_versions),
            _iso(row.produced[0]) or "",
            _iso(row.produced[1]) or "",
            row.likelihood_kind,
            row.likelihood_unit,
            row.devices,
        ]
        for m in board.all_metrics:
            cell = row.cells[m.key]
            line += [
                _num(cell.stat.mean),
                _num(cell.stat.std),
                cell.stat.n,
                cell.rank if cell.rank is not None else "",
            ]
        out.append(line)
    return out


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


# --- plots (SVG, rendered here) ----------------------------------------------------------------


def _svg_style() -> str:
    light = "".join(
        f".f-{f}{{fill:{c.fill};stroke:{c.accent}}}.t-{f}{{fill:{c.accent}}}.l-{f}{{fill:none;stroke:{c.accent}}}"
        for f, c in families.COLOURS.items()
    )
    dark = "".join(
        f".f-{f}{{fill:{c.dark_accent};fill-opacity:.35;stroke:{c.dark_accent}}}"
        f".t-{f}{{fill:{c.dark_accent}}}.l-{f}{{stroke:{c.dark_accent}}}"
        for f, c in families.COLOURS.items()
    )
    return (
        "<style>"
        "svg{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:12px}"
        ".bg{fill:#fff}.fg{fill:#1b1b1f}.mu{fill:#5f6368}.ax{stroke:#d8dadf}.err{stroke:#1b1b1f}"
        ".dot{fill:#1b1b1f;fill-opacity:.6}"
        f"{light}"
        "@media (prefers-color-scheme: dark){.bg{fill:#121316}.fg{fill:#e8e8ea}.mu{fill:#a0a4aa}"
        f".ax{{stroke:#33363c}}.err{{stroke:#e8e8ea}}.dot{{fill:#e8e8ea}}{dark}}}"
        "</style>"
    )


def _svg_open(width: int, height: int, labelled_by: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{labelled_by}">'
    )


def bar_chart_svg(board: Board, metric: Metric) -> str:
    """Mean ± std per row (best first) with each seed's value as a dot; rows without a value say why."""
    rows = board.ranking(metric.key)
    width, left, right, top, step = 760, 190, 170, 54, 30
    height = top + step * len(rows) + 30
    plot_w = width - left - right
    means = [row.cells[metric.key].stat for row in rows]
    extent = [v for s in means for _, v, _ in s.values] + [
        (s.mean or 0) + (s.std or 0) for s in means if s.mean is not None
    ]
    lo = min([0.0, *extent])
    hi = max([0.0, *extent]) or 1.0
    scale = plot_w / ((hi - lo) or 1.0)

    def x(v: float) -> float:
        return left + (v - lo) * scale

    title = f"{board.spec.title}: {metric.label} ({metric.better} is better)"
    parts = [
        _svg_open(width, height, "t d"),
        _svg_style(),
        f'<title id="t">{escape(title)}</title>',
        f'<desc id="d">{escape(metric.description)}; mean ± sample std over seeds '
        f"{escape(str(board.seeds))}, code {escape(board.version)}</desc>",
        f'<rect class="bg" width="{width}" height="{height}"/>',
        f'<text class="fg" x="10" y="22" font-size="15" font-weight="600">{escape(title)}</text>',
        f'<text class="mu" x="10" y="40">{escape(metric.description)} · mean ± std, dots: seeds · code '
        f"{escape(board.version)}</text>",
        f'<line class="ax" x1="{x(0):.1f}" y1="{top - 6}" x2="{x(0):.1f}" y2="{height - 24}"/>',
    ]
    for i, row in enumerate(rows):
        y = top + i * step
        stat = row.cells[metric.key].stat
        cell = row.cells[metric.key]
        rank = f"{cell.rank}. " if cell.rank else ""
        parts.append(
            f'<text class="t-{row.family}" x="{left - 8}" y="{y + 15}" text-anchor="end" font-weight="600">'
            f"{escape(rank + row.label)}</text>"
        )
        if stat.mean is None:
            why = "no demo yet" if not row.has_demo else "no runs yet" if not row.runs else "not reported"
            parts.append(f'<text class="mu" x="{left + 4}" y="{y + 15}">{escape(why)}</text>')
            continue
        x0, x1 = sorted((x(0), x(stat.mean)))
        parts.append(
            f'<rect class="f-{row.family}" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" '
            f'height="18" stroke-width="1.5"/>'
        )
        if stat.std is not None:
            a, b = x(stat.mean - stat.std), x(stat.mean + stat.std)
            parts.append(
                f'<path class="err" d="M{a:.1f} {y + 12}H{b:.1f}M{a:.1f} {y + 7}V{y + 17}'
                f'M{b:.1f} {y + 7}V{y + 17}" stroke-width="1.3" fill="none"/>'
            )
        for _, v, _ in stat.values:
            parts.append(f'<circle class="dot" cx="{x(v):.1f}" cy="{y + 12}" r="2.6"/>')
        label = Cell(metric, stat).text + ("  (stale)" if row.stale else "")
        parts.append(f'<text class="fg" x="{width - right + 6}" y="{y + 16}">{escape(label)}</text>')
    parts.append(
        f'<text class="mu" x="{left}" y="{height - 8}">{escape(fmt(lo))}</text>'
        f'<text class="mu" x="{width - right}" y="{height - 8}" text-anchor="end">{escape(fmt(hi))}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def ranks_svg(board: Board) -> str:
    """A bump chart: each row's rank under every quality metric; crossing lines are disagreements."""
    metrics = [m for m in board.metrics if any(row.cells[m.key].rank for row in board.rows)]
    ranked = [row for row in board.rows if any(row.cells[m.key].rank for m in metrics)]
    width, left, right, top = 780, 60, 150, 120
    slots = max(len(ranked), 2)
    height = top + 34 * slots + 20
    col = (width - left - right) / max(len(metrics) - 1, 1)
    title = f"{board.spec.title}: rank of each family model under each metric (1 = best)"
    parts = [
        _svg_open(width, height, "t"),
        _svg_style(),
        f'<title id="t">{escape(title)}</title>',
        f'<rect class="bg" width="{width}" height="{height}"/>',
        f'<text class="fg" x="10" y="22" font-size="15" font-weight="600">{escape(title)}</text>',
    ]
    if not metrics or not ranked:
        parts.append(
            f'<text class="mu" x="10" y="{top}">No results yet: run manage.py results refresh.</text></svg>'
        )
        return "\n".join(parts)

    def y(rank: int) -> float:
        return top + 10 + (rank - 1) * 34

    n_ranks = max((row.cells[m.key].rank or 0) for row in ranked for m in metrics)
    for rank in range(1, n_ranks + 1):
        parts.append(
            f'<text class="mu" x="{left - 24}" y="{y(rank) + 4:.1f}" text-anchor="end">#{rank}</text>'
        )
    for j, metric in enumerate(metrics):
        cx = left + j * col
        parts.append(f'<line class="ax" x1="{cx:.1f}" y1="{top}" x2="{cx:.1f}" y2="{height - 20}"/>')
        parts.append(
            f'<text class="mu" transform="translate({cx - 4:.1f},{top - 10}) rotate(-35)" font-size="11">'
            f"{escape(metric.label)} {metric.arrow}</text>"
        )
    dashes = ["", "6 3", "2 3", "8 3 2 3"]
    for i, row in enumerate(ranked):
        points = [
            (left + j * col, y(row.cells[m.key].rank)) for j, m in enumerate(metrics) if row.cells[m.key].rank
        ]
        path = " ".join(f"{'M' if k == 0 else 'L'}{px:.1f} {py:.1f}" for k, (px, py) in enumerate(points))
        dash = dashes[i % len(dashes)]
        parts.append(
            f'<path class="l-{row.family}" d="{path}" stroke-width="2.5"'
            f"{f' stroke-dasharray={chr(34)}{dash}{chr(34)}' if dash else ''}/>"
        )
        for px, py in points:
            parts.append(
                f'<circle class="f-{row.family}" cx="{px:.1f}" cy="{py:.1f}" r="4" stroke-width="2"/>'
            )
        if points:
            px, py = points[-1]
            parts.append(
                f'<text class="t-{row.family}" x="{px + 10:.1f}" y="{py + 4:.1f}" font-weight="600">'
                f"{escape(row.label)}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts)
