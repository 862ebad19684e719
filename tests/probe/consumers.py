"""A websocket that relays whatever is sent to its group ``probe.<token>`` from any process."""

from __future__ import annotations

import re

from channels.generic.websocket import AsyncJsonWebsocketConsumer

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def probe_group(token: str) -> str:
    return f"probe.{token}"


class ProbeConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        token = self.scope["url_route"]["kwargs"]["token"]
        if not TOKEN_RE.match(token):
            await self.close(code=4400)
            return
        self.group = probe_group(token)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def probe_message(self, event: dict) -> None:
        await self.send_json({"type": "probe", "payload": event["payload"]})
