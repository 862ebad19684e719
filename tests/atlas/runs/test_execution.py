"""Executing a run in-process: results and artifacts stored, caps and cancel end it with partial metrics."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from django.db import connection

from atlas.runs import execution, services
from atlas.runs.models import Run, RunStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def fast_heartbeat(settings):
    settings.ATLAS_RUN_HEARTBEAT_EVERY = 0.05
    settings.ATLAS_RUN_PREVIEW_EVERY = 0.2


def start(recipe: str, **config) -> tuple[Run, services.Lease]:
    run, _ = services.request_run(recipe, config, "test")
    lease, why = services.acquire(run.pk)
    assert lease is not None, why
    return run, lease


def test_a_run_stores_metrics_curves_and_artifacts():
    run, lease = start("ar-grid-2d", dataset="ring8", steps=30, seed=3, bins=64)
    assert execution.execute(lease) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.finished_at is not None
    assert run.metrics["likelihood"]["kind"] == "exact"
    assert "modes" in str(run.metrics)
    assert run.result["steps"] == 30 and run.result["parameters"] > 0
    assert run.result["versions"]["torch"] and run.result["nfe"] >= 1
    assert set(run.loss_history) >= {"loss"}
    samples = np.load(run.samples_npy.path)
    assert samples.shape[1] == 2 and np.isfinite(samples).all()
    assert run.samples_png.read()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.progress["step"] == 30
    assert run.preview["kind"] == "points2d" and len(run.preview["points"]) > 0


def test_hitting_the_wall_time_cap_ends_timed_out_with_partial_metrics(settings):
    settings.ATLAS_RUN_MAX_SECONDS = 0.5
    run, lease = start("ar-grid-2d", dataset="ring8", steps=200000 // 10, seed=4)
    assert execution.execute(lease) == RunStatus.TIMED_OUT
    run.refresh_from_db()
    assert "wall-time cap" in run.status_reason
    assert 0 < run.result["steps"] < 20000
    assert run.metrics["likelihood"]["value"] is not None


def test_hitting_the_memory_cap_ends_timed_out(settings):
    settings.ATLAS_RUN_MAX_RSS_MB = 1
    run, lease = start("ar-grid-2d", dataset="ring8", steps=20000, seed=5)
    assert execution.execute(lease) == RunStatus.TIMED_OUT
    run.refresh_from_db()
    assert run.status_reason.startswith("memory cap")


def test_cancelling_a_running_run_stops_it_within_seconds():
    run, lease = start("ar-grid-2d", dataset="ring8", steps=20000, seed=6)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(execution.execute(lease)))
    worker.start()
    time.sleep(1.0)
    services.cancel(Run.objects.get(pk=run.pk))
    asked = time.monotonic()
    worker.join(timeout=30)
    assert outcome == [RunStatus.CANCELLED]
    assert time.monotonic() - asked < 10
    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELLED


def test_a_run_that_lost_its_lease_writes_nothing(settings):
    run, lease = start("ar-grid-2d", dataset="ring8", steps=20000, seed=7)
    # The reaper handed the run to someone else: the old attempt must stop and leave it alone.
    Run.objects.filter(pk=run.pk).update(lease_token="someone-else")
    assert execution.execute(lease) == "lost"
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.metrics == {}


def test_an_exception_fails_the_run_with_its_reason(monkeypatch):
    run, lease = start("ar-grid-2d", dataset="ring8", steps=10, seed=8)

    def broken(*args, **kwargs):
        raise RuntimeError("the model exploded")

    from compute import registry

    monkeypatch.setattr(registry, "build", broken)
    assert execution.execute(lease) == RunStatus.FAILED
    run.refresh_from_db()
    assert run.status_reason == "RuntimeError: the model exploded"


def test_sigterm_while_it_trains_records_the_run_as_interrupted_not_failed():
    run, lease = start("ar-grid-2d", dataset="ring8", steps=20000, seed=9)

    # A harmless handler stays in place around execute(), so a signal arriving late kills nothing.
    def guard(*_):
        return None

    outer = signal.signal(signal.SIGTERM, guard)

    def stop_once_training() -> None:
        while not Run.objects.filter(pk=run.pk, progress__has_key="step").exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
        connection.close()

    timer = threading.Thread(target=stop_once_training, daemon=True)
    try:
        timer.start()
        assert execution.execute(lease) == RunStatus.INTERRUPTED
        assert signal.getsignal(signal.SIGTERM) is guard  # the handler before execute() is back
    finally:
        timer.join(timeout=30)
        signal.signal(signal.SIGTERM, outer)
    run.refresh_from_db()
    assert run.status == RunStatus.INTERRUPTED and run.metrics == {}
    assert run.status_reason.startswith("interrupted: the worker was stopped (SIGTERM)")
    assert 0 < run.progress["step"] < 20000


def test_the_trained_models_samples_are_shown_before_scoring_starts(monkeypatch):
    messages: list[dict] = []
    monkeypatch.setattr(execution.live, "publish", lambda _run, message: messages.append(message))
    run, lease = start("ar-grid-2d", dataset="ring8", steps=40, seed=1, bins=64, stop="budget")
    assert execution.execute(lease) == RunStatus.SUCCEEDED
    order = [
        (m["type"], m.get("phase"), m.get("step")) for m in messages if m["type"] in ("preview", "progress")
    ]
    scoring = order.index(("progress", "scoring", 40))
    assert ("preview", None, 40) in order[:scoring]  # the final samples, not the first step's
    run.refresh_from_db()
    assert run.preview["step"] == 40
