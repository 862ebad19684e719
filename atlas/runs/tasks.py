"""Celery tasks of runs: the seam between the worker and compute/ (Celery's convention: tasks live
in the Django app). The registered name stays ``compute.tasks.execute_run``, the name under which
messages already queued by an older release were sent, so they still route."""

from __future__ import annotations

import os
import signal

# Every 2-D run's first steps import these; loaded before the pool forks, the first demo of each
# pool process does not pay for them (about 1.5 s of a 10-s demo, bench/demos.py).
import ot  # noqa: F401  (POT, for the sliced Wasserstein distance: ~0.9 s to import)
import torch._dynamo  # noqa: F401  (imported by the first optimizer a process builds: ~0.7 s)
from billiard import process
from celery import shared_task
from celery.signals import worker_process_init, worker_shutting_down
from django.conf import settings

import compute.trainer  # noqa: F401  (torch is imported once in the worker, before the pool forks)
from atlas.celery import app as _app  # noqa: F401  (the shared tasks below bind to the project's app)
from atlas.runs import execution, services


@worker_process_init.connect
def _one_torch_thread_per_process(**_: object) -> None:
    """Each pool process trains one run; letting every process use every core oversubscribes the CPU."""
    import torch

    torch.set_num_threads(
        max(1, (os.cpu_count() or 1) // int(os.environ.get("ATLAS_WORKER_CONCURRENCY", "1")))
    )


@worker_shutting_down.connect
def _interrupt_runs_in_flight(**_: object) -> None:
    """SIGTERM to the worker's main process alone (`docker stop`, a scale-down) would let it wait
    for the runs in flight to finish; passed on to the pool processes, it stops each run at its
    next step, recorded as interrupted (atlas.runs.execution) and re-queued by the reaper."""
    for child in process.active_children():
        if child.pid:
            os.kill(child.pid, signal.SIGTERM)


@shared_task(name=services.EXECUTE_RUN_TASK, bind=True, max_retries=None)
def execute_run(self, run_id: int) -> dict:
    """Train one run. Takes the run's lease first: a second delivery of the same message finds the
    lease held and waits for it to go stale (its holder died) or for the run to end."""
    lease, why = services.acquire(run_id, worker=self.request.hostname or "")
    if lease is None:
        if why == "held" and self.request.retries < settings.ATLAS_RUN_MAX_LEASE_WAITS:
            raise self.retry(countdown=settings.ATLAS_RUN_HEARTBEAT_TIMEOUT / 2)
        return {"run": run_id, "skipped": why}
    return {"run": run_id, "status": execution.execute(lease), "attempt": lease.attempt}
