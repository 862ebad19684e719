"""Messages about a run, sent to its websocket group from any process.

A failure to reach the channel layer (Redis restarting) never stops a run: progress is also
persisted, and a viewer that reconnects gets the current state from the database.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def run_group(public_id: Any) -> str:
    return f"run.{public_id}"


def publish(public_id: Any, payload: dict[str, Any]) -> bool:
    # `at`: when it was sent (epoch seconds), so a viewer can tell how late it arrives.
    message = {"run": str(public_id), "at": round(time.time(), 4), **payload}
    try:
        async_to_sync(get_channel_layer().group_send)(
            run_group(public_id), {"type": "run.update", "payload": message}
        )
        return True
    except Exception as exc:  # the run goes on without live updates; they are persisted anyway
        log.warning("could not publish an update of run %s: %s", public_id, exc)
        return False
