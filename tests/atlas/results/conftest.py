"""Results-board tests: hand-made Run rows; nothing is sent to a broker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from atlas.results import boards
from atlas.runs import services
from atlas.runs.models import Run, RunStatus

# Imported fixtures are registered in this conftest, so they apply to this package only.
from tests.atlas.fixtures import enqueued, media_root  # noqa: F401


@pytest.fixture(autouse=True)
def no_published_boards(settings, tmp_path):
    """Board tests plan from the recipes alone: the published sweeps (which change the boards'
    configurations) and runs are read only by the tests that ask for them (test_published_real)."""
    settings.ATLAS_RESULTS_DIR = tmp_path / "no-results"


def planned(dataset: str, key: str, seeds: int = 3) -> tuple[boards.Plan, list[boards.PlannedRun]]:
    plans = {p.key: p for p in boards.plan(boards.BOARDS[dataset], boards.seeds_of(seeds))}
    return plans[key], list(plans[key].runs)


def make_run(
    plan: boards.Plan,
    run: boards.PlannedRun,
    *,
    metrics: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    status: str = RunStatus.SUCCEEDED,
    version: str | None = None,
    minutes_ago: float = 0,
    on_board: bool = True,
) -> Run:
    """A Run row as the worker would leave it, for the current code version unless ``version``."""
    current = boards.code_version()
    digest = (
        run.config_hash
        if version in (None, current)
        else services.canonical_hash(plan.recipe.slug, run.config, version)
    )
    return Run.objects.create(
        recipe=plan.recipe.slug,
        model=plan.recipe.model,
        family=plan.entry.family,
        dataset=run.config["dataset"],
        config=run.config,
        seed=run.seed,
        code_version=version or current,
        config_hash=digest,
        status=status,
        on_board=on_board,
        metrics=metrics or {},
        result={"nfe": 1, "wall_time_s": 10.0, "parameters": 1000, "device": "cpu", **(result or {})},
        finished_at=timezone.now() - timedelta(minutes=minutes_ago) if status != RunStatus.QUEUED else None,
    )
