"""A 2-D demo on a mixture stops once its quality has converged; a board run trains its budget."""

from __future__ import annotations

import dataclasses

import pytest

from atlas.runs import execution, services
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
