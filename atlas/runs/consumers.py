"""The websocket of one run: a snapshot on connect, then the worker's updates as they happen.

A socket only ever joins the feed of the run it named, so it receives nothing about other runs;
foreign origins are refused by the ASGI router's AllowedHostsOriginValidator. Updates reach the
socket through this process's feed of the run (atlas.runs.fanout): one channel-layer message per
web process, however many watch.
"""

from __future__ import annotations

import json
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from atlas.runs import fanout
from atlas.runs.live import run_group
from atlas.runs.models import Run


@database_sync_to_async
def snapshot(public_id: uuid.UUID) -> dict | None:
    from atlas.runs.serializers import RunSerializer

    run = Run.objects.filter(public_id=public_id).first()
    return None if run is None else dict(RunSerializer(run).data)


class RunConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        try:
            public_id = uuid.UUID(self.scope["url_route"]["kwargs"]["public_id"])
        except ValueError:
            await self.close(code=4404)
            return
        # Subscribed before the snapshot is read: an update in between is queued, never missed.
        self.group = run_group(public_id)
        self.mailbox = fanout.Mailbox(self._send_text)
        await fanout.join(self.group, self.mailbox, lambda: snapshot(public_id))
        state = await snapshot(public_id)
        if state is None:
            await self.close(code=4404)
            return
        await self.accept()
        await self._send_text(json.dumps({"type": "snapshot", "run": state}, default=str))
        self.mailbox.start()

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "mailbox"):
            await self.mailbox.close()
            await fanout.leave(self.group, self.mailbox)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """The socket is read-only: commands go through the REST API."""
