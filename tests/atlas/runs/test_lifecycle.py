"""Run lifecycle: dedup, caps, leases, terminal immutability, cancel, reaping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from atlas.runs import services
from atlas.runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)  # so that on_commit enqueues fire
CONFIG = {"dataset": "ring8", "steps": 50, "seed": 1}


def new_run(seed: int = 1, client: str = "a") -> Run:
    run, created = services.request_run("ar-grid-2d", {**CONFIG, "seed": seed}, client)
    assert created
    return run


def test_an_identical_request_returns_the_existing_run(enqueued):
    first = new_run()
    second, created = services.request_run("ar-grid-2d", {**CONFIG, "bins": 512}, "b")
    assert not created and second.pk == first.pk
    assert enqueued == [first.pk]


def test_a_different_seed_is_a_different_run():
    assert new_run(1).config_hash != new_run(2).config_hash


def test_a_failed_run_may_be_requested_again():
    run = new_run()
    assert services.transition(run.pk, RunStatus.FAILED, "boom", from_states=(RunStatus.QUEUED,))
    again, created = services.request_run("ar-grid-2d", CONFIG, "a")
    assert created and again.pk != run.pk


def test_it_rejects_an_unknown_recipe():
    with pytest.raises(services.RunRequestError) as exc:
        services.request_run("no-such-recipe", {}, "a")
    assert "recipe" in exc.value.errors


def test_it_caps_runs_per_client_with_429(settings):
    settings.ATLAS_RUNS_MAX_PER_CLIENT = 2
    new_run(1), new_run(2)
    with pytest.raises(services.Backpressure) as exc:
        new_run(3)
    assert exc.value.status == 429 and exc.value.retry_after > 0
    assert Run.objects.count() == 2


def test_it_caps_all_active_runs_with_503(settings):
    settings.ATLAS_RUNS_MAX_ACTIVE = 1
    new_run(1, client="a")
    with pytest.raises(services.Backpressure) as exc:
        new_run(2, client="b")
    assert exc.value.status == 503


def test_terminal_states_never_change():
    run = new_run()
    assert services.transition(run.pk, RunStatus.CANCELLED, "user", from_states=(RunStatus.QUEUED,))
    for target in (RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.QUEUED):
        assert not services.transition(
            run.pk, target, "late write", from_states=(RunStatus.QUEUED, RunStatus.RUNNING)
        )
    lease, why = services.acquire(run.pk)
    assert lease is None and why == "terminal"
    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELLED


def test_every_state_change_is_recorded_with_a_reason():
    run = new_run()
    lease, _ = services.acquire(run.pk)
    services.transition(
        run.pk, RunStatus.SUCCEEDED, "done", from_states=(RunStatus.RUNNING,), lease_token=lease.token
    )
    events = list(run.events.values_list("from_status", "to_status", "reason"))
    assert events == [
        ("", "queued", "requested"),
        ("queued", "running", "started"),
        ("running", "succeeded", "done"),
    ]


def test_a_second_delivery_cannot_take_a_live_lease():
    run = new_run()
    lease, _ = services.acquire(run.pk)
    assert lease is not None and lease.attempt == 1
    second, why = services.acquire(run.pk)
    assert second is None and why == "held"


def test_a_stale_lease_is_taken_over_and_the_old_holder_can_no_longer_write(settings):
    run = new_run()
    old, _ = services.acquire(run.pk)
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=3600))
    new, _ = services.acquire(run.pk)
    assert new is not None and new.attempt == 2
    held, _ = services.heartbeat(old)
    assert not held
    assert not services.transition(
        run.pk, RunStatus.SUCCEEDED, "late", from_states=(RunStatus.RUNNING,), lease_token=old.token
    )


def test_a_run_whose_worker_keeps_dying_fails_after_max_attempts(settings):
    settings.ATLAS_RUN_MAX_ATTEMPTS = 2
    run = new_run()
    for _ in range(2):
        lease, _ = services.acquire(run.pk)
        assert lease is not None
        Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=3600))
    lease, why = services.acquire(run.pk)
    assert lease is None and why == "exhausted"
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "2 attempt" in run.status_reason


def test_cancel_ends_a_queued_run_at_once():
    run = services.cancel(new_run())
    assert run.status == RunStatus.CANCELLED
    assert services.acquire(run.pk) == (None, "terminal")


def test_cancel_flags_a_running_run_for_its_worker():
    run = new_run()
    lease, _ = services.acquire(run.pk)
    run = services.cancel(run)
    assert run.status == RunStatus.RUNNING and run.cancel_requested
    assert services.heartbeat(lease) == (True, True)


def test_the_reaper_requeues_a_run_whose_heartbeat_stopped(enqueued):
    run = new_run()
    services.acquire(run.pk)
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=3600))
    assert services.reap()["requeued"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and enqueued == [run.pk, run.pk]


def test_the_reaper_cancels_a_dead_run_that_was_asked_to_stop():
    run = new_run()
    services.acquire(run.pk)
    Run.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=3600), cancel_requested=True
    )
    assert services.reap()["cancelled"] == 1


def test_the_reaper_leaves_live_runs_alone():
    run = new_run()
    services.acquire(run.pk)
    assert sum(services.reap().values()) == 0
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING


def test_the_reaper_resends_a_queued_run_whose_message_was_lost(enqueued):
    run = new_run()
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=3600))
    assert services.reap()["resent"] == 1
    assert enqueued == [run.pk, run.pk]
    assert services.reap()["resent"] == 0  # not again until another requeue period passed


def test_recover_everything_interrupts_running_runs_and_sends_every_active_run_again(enqueued):
    queued, running = new_run(1), new_run(2)
    services.acquire(running.pk)
    assert services.recover_orphans(everything=True) == 2
    assert Run.objects.get(pk=queued.pk).status == RunStatus.QUEUED
    resumed = Run.objects.get(pk=running.pk)
    assert resumed.status == RunStatus.QUEUED
    assert list(resumed.events.values_list("to_status", "reason"))[-2:] == [
        ("interrupted", "interrupted: the stack stopped while it ran"),
        ("queued", "re-queued after an interruption"),
    ]
    assert sorted(enqueued) == sorted([queued.pk, running.pk, queued.pk, running.pk])


def interrupted_run() -> Run:
    run = new_run()
    lease, _ = services.acquire(run.pk)
    assert services.interrupt(lease, "interrupted: the worker was stopped (SIGTERM)")
    return Run.objects.get(pk=run.pk)


def test_an_interruption_is_recorded_with_its_reason_and_is_not_a_failure():
    run = interrupted_run()
    assert run.status == RunStatus.INTERRUPTED and not run.is_terminal
    assert run.status_reason == "interrupted: the worker was stopped (SIGTERM)"
    assert run.events.last().from_status == "running"


def test_an_identical_request_returns_the_interrupted_run():
    run = interrupted_run()
    again, created = services.request_run("ar-grid-2d", CONFIG, "a")
    assert not created and again.pk == run.pk


def test_the_reaper_requeues_an_interrupted_run_without_using_up_an_attempt(settings, enqueued):
    settings.ATLAS_RUN_MAX_ATTEMPTS = 1
    run = interrupted_run()
    assert services.reap()["resumed"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and enqueued == [run.pk, run.pk]
    lease, why = services.acquire(run.pk)  # attempt 2 of a run allowed 1: the interruption is free
    assert lease is not None and lease.attempt == 2, why


def test_an_interrupted_attempt_can_no_longer_write():
    run = new_run()
    lease, _ = services.acquire(run.pk)
    assert services.interrupt(lease, "stopped")
    assert not services.interrupt(lease, "stopped twice")
    assert services.heartbeat(lease) == (False, True)
    assert not services.transition(
        run.pk, RunStatus.SUCCEEDED, "late", from_states=(RunStatus.RUNNING,), lease_token=lease.token
    )


def test_a_terminal_run_is_never_interrupted():
    run = new_run()
    lease, _ = services.acquire(run.pk)
    services.transition(
        run.pk, RunStatus.SUCCEEDED, "done", from_states=(RunStatus.RUNNING,), lease_token=lease.token
    )
    assert not services.interrupt(lease, "the stack stopped")
    assert services.recover_orphans(everything=True) == 0
    assert Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED


def test_cancel_ends_an_interrupted_run_at_once(enqueued):
    run = services.cancel(interrupted_run())
    assert run.status == RunStatus.CANCELLED
    assert services.reap()["resumed"] == 0


def test_a_duplicate_delivery_on_the_last_attempt_leaves_the_live_run_alone(settings):
    settings.ATLAS_RUN_MAX_ATTEMPTS = 1
    run = new_run()
    lease, _ = services.acquire(run.pk)
    assert lease is not None and lease.attempt == 1
    assert services.acquire(run.pk) == (None, "held")
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert services.heartbeat(lease) == (True, False)
