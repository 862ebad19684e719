"""Probe tasks, registered in a worker started with ``tests.probe.settings`` (CELERY_IMPORTS)."""

from __future__ import annotations

import os
import socket

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer

from tests.probe.consumers import probe_group


@shared_task(name="tests.probe.ping")
def ping(value: int) -> dict:
    """Proves that a worker process picked the message from Redis and answered (and which host)."""
    return {"value": value, "doubled": value * 2, "pid": os.getpid(), "host": socket.gethostname()}


@shared_task(name="tests.probe.broadcast")
def broadcast(token: str, payload: dict) -> bool:
    """Send ``payload`` to the websocket group of ``token`` from the worker process."""
    async_to_sync(get_channel_layer().group_send)(
        probe_group(token), {"type": "probe.message", "payload": payload}
    )
    return True
