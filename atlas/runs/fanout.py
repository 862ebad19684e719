"""Fan-out of a run's updates inside one web process, for runs watched by many viewers.

The worker sends each update once to the run's group. In each web process one *feed* per watched
run is the group's only member: it receives the update once, encodes it once, and hands the text to
every local viewer's mailbox. So the channel layer carries one message per web process, not one per
viewer, and nothing is dropped for being over a channel's capacity however many watch.

A mailbox keeps every status change and the final result (never dropped) but only the latest
progress and preview (a viewer that falls behind skips to the newest instead of trailing further).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
# Superseded by the next one of the same kind: a viewer only needs the newest.
COALESCED = frozenset({"progress", "preview"})
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out"})

Send = Callable[[str], Awaitable[None]]
FinalState = Callable[[], Awaitable[dict[str, Any] | None]]


class Mailbox:
    """What one viewer has yet to be sent, drained in order by its own task."""

    def __init__(self, send: Send):
        self.send = send
        self.pending: deque[tuple[str, str]] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

    def offer(self, kind: str, text: str) -> None:
        if kind in COALESCED:
            stale = [item for item in self.pending if item[0] == kind]
            for item in stale:
                self.pending.remove(item)
        self.pending.append((kind, text))
        self.wake.set()

    def start(self) -> None:
        self.task = asyncio.create_task(self._drain())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _drain(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                _, text = self.pending.popleft()
                await self.send(text)


class Feed:
    """The one member of a run's group in this process; relays to the local mailboxes."""

    def __init__(self, group: str, final_state: FinalState):
        self.group, self.final_state = group, final_state
        self.mailboxes: set[Mailbox] = set()
        self.ready = asyncio.Event()
        self.layer = get_channel_layer()
        self.channel = ""
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        self.channel = await self.layer.new_channel()
        while True:
            try:
                # (Again after an error: a restarted Redis has forgotten the group.)
                await self.layer.group_add(self.group, self.channel)
                self.ready.set()
                while True:
                    await self._relay(await self.layer.receive(self.channel))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis unreachable: viewers keep their sockets; retry
                log.warning("feed of %s lost the channel layer: %s", self.group, exc)
                self.ready.set()  # a viewer gets its snapshot from the database meanwhile
                await asyncio.sleep(1.0)

    async def _relay(self, message: dict[str, Any]) -> None:
        payload = message.get("payload") or {}
        self.broadcast(payload)
        if payload.get("type") == "status" and payload.get("status") in TERMINAL:
            await self._send_final_state()

    def broadcast(self, payload: dict[str, Any]) -> None:
        kind, text = str(payload.get("type", "")), json.dumps(payload, separators=(",", ":"), default=str)
        for mailbox in self.mailboxes:
            mailbox.offer(kind, text)

    async def _send_final_state(self) -> None:
        """The stored result, read once per process for all its viewers (not once per viewer)."""
        try:
            state = await self.final_state()
        except Exception as exc:  # the viewers still have the status; they may fetch the rest
            log.warning("could not read the final state of %s: %s", self.group, exc)
            return
        if state is not None:
            self.broadcast({"type": "snapshot", "final": True, "run": state})

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if self.channel:
            await self.layer.group_discard(self.group, self.channel)


_feeds: dict[str, Feed] = {}


async def join(group: str, mailbox: Mailbox, final_state: FinalState) -> None:
    """Subscribe ``mailbox`` to ``group``; returns once updates to the group reach it."""
    feed = _feeds.get(group)
    if feed is None:
        feed = _feeds[group] = Feed(group, final_state)
    feed.mailboxes.add(mailbox)
    await feed.ready.wait()


async def leave(group: str, mailbox: Mailbox) -> None:
    feed = _feeds.get(group)
    if feed is None:
        return
    feed.mailboxes.discard(mailbox)
    if not feed.mailboxes:
        del _feeds[group]
        await feed.stop()


def watched() -> dict[str, int]:
    """Viewers per group in this process (for tests and diagnostics)."""
    return {group: len(feed.mailboxes) for group, feed in _feeds.items()}
