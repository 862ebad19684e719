"""Celery tasks: the one seam between Django and compute/ (the only file of compute/ that knows Django)."""

from __future__ import annotations

import os
import socket

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer

from atlas.core.consumers import probe_group


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
