"""`manage.py results refresh|status`: requests through services.request_run, dedup, no worker."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from atlas.results import boards
from atlas.results.management.commands import results as command
from atlas.runs.models import Run, RunStatus
from tests.atlas.results.conftest import make_run

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("results", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setattr(command, "broker_status", lambda: (True, True, "1 worker(s): celery@test"))


def expected_runs(dataset: str, seeds: int) -> int:
    return sum(len(p.runs) for p in boards.plan(boards.BOARDS[dataset], boards.seeds_of(seeds)))


def test_refresh_requests_each_board_run_once_and_reuses_them(
    worker, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # enqueue happens on commit
        out = run_command("refresh", "--dataset", "ring8", "--seeds", "2")
    n = expected_runs("ring8", 2)
    assert n >= 10  # five families with a 2-D recipe at least, two seeds
    assert Run.objects.count() == n and len(enqueued) == n
    assert f"requested: {n} new" in out
    assert set(Run.objects.values_list("seed", flat=True)) == {0, 1}
    hashes = {p.config_hash for plan in boards.plan(boards.BOARDS["ring8"], [0, 1]) for p in plan.runs}
    assert set(Run.objects.values_list("config_hash", flat=True)) == hashes  # exactly what the board reads
    with django_capture_on_commit_callbacks(execute=True):
        out = run_command("refresh", "--dataset", "ring8", "--seeds", "2")
    assert Run.objects.count() == n and len(enqueued) == n
    assert f"requested: {n} reused (queued)" in out


def test_without_a_worker_it_says_so(monkeypatch, enqueued):
    monkeypatch.setattr(command, "broker_status", lambda: (True, False, "no Celery worker answered"))
    out = run_command("refresh", "--dataset", "digits", "--seeds", "1")
    assert "No Celery worker answered" in out and "stay queued" in out
    assert Run.objects.filter(status=RunStatus.QUEUED).count() == expected_runs("digits", 1)
    with pytest.raises(CommandError, match="no worker"):
        run_command("refresh", "--dataset", "digits", "--seeds", "1", "--wait")


def test_without_redis_nothing_is_requested(monkeypatch, enqueued):
    monkeypatch.setattr(command, "broker_status", lambda: (False, False, "ConnectionError: refused"))
    out = run_command("refresh")
    assert "Redis is not reachable" in out and Run.objects.count() == 0 and enqueued == []
    with pytest.raises(CommandError):
        run_command("refresh", "--wait")


def test_the_active_run_cap_defers_the_rest(worker, settings):
    settings.ATLAS_RUNS_MAX_ACTIVE = 3
    out = run_command("refresh", "--dataset", "grid25")
    assert Run.objects.count() == 3 and "deferred" in out


def test_wait_returns_when_every_run_has_ended_and_prints_the_board(worker):
    for plan in boards.plan(boards.BOARDS["ring8"], [0]):
        for p in plan.runs:
            make_run(plan, p, metrics={"sliced_wasserstein": 0.5})
    out = run_command("refresh", "--dataset", "ring8", "--seeds", "1", "--wait", "--poll", "0.01")
    assert "reused (succeeded)" in out and "Ring of 8 Gaussians" in out and "0.5" in out


def test_wait_gives_up_after_its_timeout(worker):
    with pytest.raises(CommandError, match="gave up waiting"):
        run_command(
            "refresh", "--dataset", "ring8", "--seeds", "1", "--wait", "--timeout", "0", "--poll", "0.01"
        )


def test_status_requests_nothing():
    out = run_command("status", "--dataset", "digits")
    assert "8×8 digits" in out and Run.objects.count() == 0


def test_bad_seed_counts_are_refused():
    with pytest.raises(CommandError):
        run_command("refresh", "--seeds", "0")


def test_report_trains_an_interrupted_board_run_again_instead_of_skipping_it(monkeypatch):
    # A report stopped by its operator (SIGTERM) leaves its run interrupted, lease token and all.
    plan = {p.key: p for p in boards.plan(boards.BOARDS["ring8"], [0])}["autoregressive"]
    stopped = make_run(plan, plan.runs[0], status=RunStatus.INTERRUPTED)
    Run.objects.filter(pk=stopped.pk).update(lease_token="the-stopped-report", max_attempts=1, attempts=1)
    leased = []
    monkeypatch.setattr(command.execution, "execute", lambda lease: leased.append(lease) or "succeeded")
    out = run_command("report", "--dataset", "ring8", "--seeds", "1", "--model", "autoregressive")
    assert [lease.run_id for lease in leased] == [stopped.pk]
    assert "seed 0: succeeded" in out and "held" not in out
    assert Run.objects.get(pk=stopped.pk).max_attempts == 2  # an interruption costs no attempt
