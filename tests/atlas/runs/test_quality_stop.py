"""A 2-D demo on a mixture stops once its quality has converged; a board run trains its budget."""

from __future__ import annotations

import dataclasses

import pytest

from atlas.runs import execution, recipes, services
from atlas.runs.models import Run, RunStatus
from compute import metrics, stopping

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def frequent_checks(settings):
    settings.ATLAS_RUN_HEARTBEAT_EVERY = 0.05
    settings.ATLAS_RUN_QUALITY_EVERY = 0.0  # a check at every progress report


def execute(**config) -> Run:
    run, _ = services.request_run("ar-grid-2d", {"dataset": "ring8", "seed": 4, **config}, "test")
    lease, why = services.acquire(run.pk)
    assert lease is not None, why
    execution.execute(lease)
    run.refresh_from_db()
    return run


def test_a_demo_records_every_quality_check_with_the_run():
    run = execute(steps=30)
    history = run.result["quality"]["history"]
    assert history and {"step", "meets", "diagnosis", "hq_fraction"} <= set(history[0])
    assert run.progress["quality"] == history


def test_a_board_run_trains_its_whole_budget_without_checks():
    run = execute(steps=30, stop="budget")
    assert run.status == RunStatus.SUCCEEDED and run.result["steps"] == 30
    assert "quality" not in run.result


def test_a_demo_whose_quality_holds_twice_ends_converged(monkeypatch):
    real = metrics.judge_2d

    def always_meets(samples, dataset):
        return dataclasses.replace(real(samples, dataset), meets=True, diagnosis="meets")

    monkeypatch.setattr(stopping.metrics, "judge_2d", always_meets)
    run = execute(steps=5000)
    assert run.status == RunStatus.SUCCEEDED and run.result["stop_reason"] == "converged"
    # It stops at the second check (two in a row at the bar), however many steps a check is apart
    # on this machine: far short of its 5,000-step budget.
    history = run.result["quality"]["history"]
    assert len(history) == 2 and history[-1]["step"] <= run.result["steps"] <= history[-1]["step"] + 1
    assert run.result["steps"] < 5000 and "converged after" in run.status_reason
    assert run.result["quality"]["converged_at_step"] is not None


def never_meets(monkeypatch) -> None:
    real = metrics.judge_2d

    def below_the_bar(samples, dataset):
        return dataclasses.replace(real(samples, dataset), meets=False, diagnosis="noise")

    monkeypatch.setattr(stopping.metrics, "judge_2d", below_the_bar)


def with_demo_seconds(monkeypatch, seconds: float) -> None:
    recipe = recipes.get("ar-grid-2d")
    shorter = dataclasses.replace(recipe, demo_seconds=seconds)
    monkeypatch.setattr(execution.recipes, "get", lambda slug: shorter if slug == recipe.slug else recipe)


def test_a_demo_that_never_converges_ends_succeeded_after_its_demo_seconds(monkeypatch):
    never_meets(monkeypatch)
    with_demo_seconds(monkeypatch, 1.0)
    run = execute(steps=20_000)
    assert run.status == RunStatus.SUCCEEDED, run.status_reason
    assert "trained for the demo's 1 s" in run.status_reason
    assert run.result["stop_reason"] == "time_budget" and 0 < run.result["steps"] < 200_000
    assert 1.0 <= run.result["wall_time_s"] < 3.0
    assert run.metrics["likelihood"]["value"] is not None


def test_a_board_run_ignores_the_demo_seconds(monkeypatch):
    with_demo_seconds(monkeypatch, 0.01)
    run = execute(steps=300, stop="budget")
    assert run.status == RunStatus.SUCCEEDED and run.result["steps"] == 300


def test_the_wall_time_cap_still_ends_a_demo_timed_out_when_it_comes_first(monkeypatch, settings):
    never_meets(monkeypatch)
    with_demo_seconds(monkeypatch, 30.0)
    settings.ATLAS_RUN_MAX_SECONDS = 0.5
    run = execute(steps=20_000)
    assert run.status == RunStatus.TIMED_OUT and "wall-time cap" in run.status_reason
