"""Messages about a run, sent to its websocket group from any process.

A failure to reach the channel layer (Redis restarting) never stops a run: progress is also
persisted, and a viewer that reconnects gets the current state from the database.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def run_group(public_id: Any) -> str:
    return f"run.{public_id}"


def publish(public_id: Any, payload: dict[str, Any]) -> bool:
    try:
        async_to_sync(get_channel_layer().group_send)(
            run_group(public_id), {"type": "run.update", "payload": {"run": str(public_id), **payload}}
        )
        return True
    except Exception as exc:  # the run goes on without live updates; they are persisted anyway
        log.warning("could not publish an update of run %s: %s", public_id, exc)
        return False
