"""The websocket of one run: a snapshot on connect, then the worker's updates as they happen.

A socket only ever joins the group of the run it named, so it receives nothing about other runs;
foreign origins are refused by the ASGI router's AllowedHostsOriginValidator.
"""

from __future__ import annotations

import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from atlas.runs.live import run_group
from atlas.runs.models import Run


@database_sync_to_async
def snapshot(public_id: uuid.UUID) -> dict | None:
    from atlas.runs.serializers import RunSerializer

    run = Run.objects.filter(public_id=public_id).first()
    return None if run is None else dict(RunSerializer(run).data)


class RunConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        try:
            public_id = uuid.UUID(self.scope["url_route"]["kwargs"]["public_id"])
        except ValueError:
            await self.close(code=4404)
            return
        self.group = run_group(public_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        state = await snapshot(public_id)
        if state is None:
            await self.close(code=4404)
            return
        await self.accept()
        await self.send_json({"type": "snapshot", "run": state})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def run_update(self, event: dict) -> None:
        await self.send_json(event["payload"])

    async def receive_json(self, content, **kwargs) -> None:
        """The socket is read-only: commands go through the REST API."""
