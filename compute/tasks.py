"""Celery tasks: the one seam between Django and compute/ (the only file of compute/ that knows Django)."""

from __future__ import annotations

import os
import socket

from asgiref.sync import async_to_sync
from celery import shared_task
from celery.signals import worker_process_init
from channels.layers import get_channel_layer
from django.conf import settings

import compute.trainer  # noqa: F401  (torch is imported once in the worker, before the pool forks)
from atlas.celery import app as _app  # noqa: F401  (the shared tasks below bind to the project's app)
from atlas.core.consumers import probe_group


@worker_process_init.connect
def _one_torch_thread_per_process(**_: object) -> None:
    """Each pool process trains one run; letting every process use every core oversubscribes the CPU."""
    import torch

    torch.set_num_threads(
        max(1, (os.cpu_count() or 1) // int(os.environ.get("ATLAS_WORKER_CONCURRENCY", "1")))
    )


@shared_task(name="compute.tasks.ping")
def ping(value: int) -> dict:
    """A trivial task: proves that a worker process picked the message from Redis and answered."""
    return {"value": value, "doubled": value * 2, "pid": os.getpid(), "host": socket.gethostname()}


@shared_task(name="compute.tasks.probe_broadcast")
def probe_broadcast(token: str, payload: dict) -> bool:
    """Send ``payload`` to the websocket group of ``token`` from the worker process."""
    async_to_sync(get_channel_layer().group_send)(
        probe_group(token), {"type": "probe.message", "payload": payload}
    )
    return True


@shared_task(name="compute.tasks.execute_run", bind=True, max_retries=None)
def execute_run(self, run_id: int) -> dict:
    """Train one run. Takes the run's lease first: a second delivery of the same message finds the
    lease held and waits for it to go stale (its holder died) or for the run to end."""
    from atlas.runs import execution, services

    lease, why = services.acquire(run_id)
    if lease is None:
        if why == "held" and self.request.retries < settings.ATLAS_RUN_MAX_LEASE_WAITS:
            raise self.retry(countdown=settings.ATLAS_RUN_HEARTBEAT_TIMEOUT / 2)
        return {"run": run_id, "skipped": why}
    return {"run": run_id, "status": execution.execute(lease), "attempt": lease.attempt}
