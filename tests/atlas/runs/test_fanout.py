"""A viewer's mailbox: every status change kept in order, progress and previews coalesced."""

from __future__ import annotations

import asyncio
import json

from atlas.runs.fanout import Mailbox


def drained(offers: list[tuple[str, dict]]) -> list[dict]:
    """What a viewer is sent when ``offers`` arrive faster than its socket takes them."""
    sent: list[str] = []

    async def scenario() -> None:
        async def send(text: str) -> None:
            sent.append(text)

        mailbox = Mailbox(send)
        for kind, payload in offers:  # all queued before the mailbox's task runs once
            mailbox.offer(kind, json.dumps(payload))
        mailbox.start()
        await asyncio.sleep(0.05)
        await mailbox.close()

    asyncio.run(scenario())
    return [json.loads(text) for text in sent]


def test_a_slow_viewer_gets_every_status_change_but_only_the_latest_progress():
    offers = [
        ("status", {"status": "running"}),
        *[("progress", {"step": step}) for step in range(1, 6)],
        ("preview", {"step": 3}),
        ("preview", {"step": 5}),
        ("status", {"status": "succeeded"}),
        ("snapshot", {"final": True}),
    ]
    assert drained(offers) == [
        {"status": "running"},
        {"step": 5},
        {"step": 5},
        {"status": "succeeded"},
        {"final": True},
    ]


def test_a_later_progress_never_jumps_ahead_of_a_status_change():
    offers = [("progress", {"step": 1}), ("status", {"status": "succeeded"}), ("progress", {"step": 2})]
    assert drained(offers) == [{"status": "succeeded"}, {"step": 2}]
