"""The board specifications and their planning: which model of each family a board shows, and the
exact configs (and config hashes) its runs must have.

A board is defined per dataset (`BOARDS`): one entry per family model that supports the data
(the flow family has two, RealNVP and flow matching), each naming the recipe(s) that may run it
and the config overrides that make it the standard board configuration. An entry whose recipe does
not exist yet (or does not accept the dataset) is shown as "no demo yet".

`plan` gives, for each entry and seed, the canonical config and its hash under the current code
version (the same hash `services.request_run` dedups by): published board runs are keyed by these
hashes, so this logic decides which runs a board reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from atlas.content.schema import FAMILIES
from atlas.graph import families
from atlas.results import sweep
from atlas.results.metrics import IMAGE_METRICS, POINT_METRICS, Metric
from atlas.runs import recipes, services
from atlas.runs.models import Run
from compute.version import code_version

DEFAULT_SEEDS = 3
MAX_SEEDS = 10
FAMILY_ORDER = FAMILIES  # the content's fixed order of the six families
FAMILY_NAMES = families.NAMES  # the one list of the families' names and colours


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
    """The first candidate recipe that exists, accepts the dataset and validates the overrides; its
    overrides on top of the recipe's reference configuration (a board does not run the fast demo
    defaults)."""
    for candidate in entry.candidates:
        try:
            recipe = recipes.get(candidate.recipe)
        except KeyError:
            continue
        if dataset not in recipe.datasets:
            continue
        overrides = {**recipe.reference, **candidate.overrides}
        _, errors = recipe.validate({**overrides, "dataset": dataset})
        if not errors:
            return recipe, overrides
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
