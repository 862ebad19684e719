"""A crowd of websocket viewers of runs, for the fan-out test and bench/fanout.py.

Each viewer records every message with its arrival time (epoch seconds, comparable with the `at`
the worker stamps on each update); the analysis runs after the crowd is gone, so that parsing does
not slow the receiving.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from websockets.asyncio.client import connect

from tests.stack import RunningStack

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}
FINAL_MARK = '"final":true'  # the final snapshot (atlas.runs.fanout encodes without spaces)


@dataclass
class Viewer:
    run_id: str
    received: list[tuple[float, str]] = field(default_factory=list)
    connected: bool = False
    error: str = ""

    def messages(self) -> list[tuple[float, dict]]:
        return [(t, json.loads(text)) for t, text in self.received]


def _ended_before_connect(viewer: Viewer) -> bool:
    """The first message, the snapshot on connect, already shows the run ended: nothing follows."""
    if len(viewer.received) != 1:
        return False
    return json.loads(viewer.received[0][1])["run"]["status"] in TERMINAL


async def _watch(viewer: Viewer, url: str, origin: str, gate: asyncio.Semaphore, timeout: float) -> None:
    try:
        async with gate:  # a bounded number of handshakes at once (the server's listen backlog)
            ws = await connect(url, origin=origin, open_timeout=60, max_size=None, ping_interval=None)
        viewer.connected = True
        async with ws:
            async with asyncio.timeout(timeout):
                async for text in ws:
                    viewer.received.append((time.time(), text))
                    if FINAL_MARK in text or _ended_before_connect(viewer):
                        return
    except Exception as exc:  # recorded: a viewer that failed is counted, never hidden
        viewer.error = f"{type(exc).__name__}: {exc}"


async def watch(
    port: int,
    run_ids: list[str],
    per_run: int,
    *,
    when_connected: Callable[[], None] = lambda: None,
    timeout: float = 180,
) -> list[Viewer]:
    """``per_run`` viewers of each run; ``when_connected`` is called once every handshake ended."""
    origin = f"http://127.0.0.1:{port}"
    viewers = [Viewer(run_id) for run_id in run_ids for _ in range(per_run)]
    gate = asyncio.Semaphore(64)
    tasks = [
        asyncio.create_task(_watch(v, f"ws://127.0.0.1:{port}/ws/runs/{v.run_id}/", origin, gate, timeout))
        for v in viewers
    ]
    deadline = time.monotonic() + 120
    while not all(v.connected or v.error for v in viewers) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    when_connected()
    await asyncio.gather(*tasks)
    return viewers


def key_of(message: dict) -> tuple | None:
    """What identifies one update across viewers (None: the per-viewer snapshot on connect)."""
    kind = message.get("type")
    if kind in ("progress", "preview"):
        return (kind, message.get("step"))
    if kind == "status":
        return (kind, message.get("status"))
    if kind == "snapshot":
        return ("final",) if message.get("final") else None
    return (kind,)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summarize(viewers: list[Viewer]) -> dict:
    """Connected viewers, updates per viewer, status changes and final results received, and how far
    each viewer trails the fastest one for the same update (delay) and the worker's send (latency)."""
    arrivals: dict[tuple, list[float]] = {}
    per_viewer: list[dict[tuple, float]] = []
    latency: list[float] = []
    for viewer in viewers:
        seen: dict[tuple, float] = {}
        for t, message in viewer.messages():
            key = key_of(message)
            if key is None or key in seen:
                continue
            seen[key] = t
            arrivals.setdefault(key, []).append(t)
            if "at" in message:
                latency.append(t - message["at"])
        per_viewer.append(seen)
    fastest = {key: min(times) for key, times in arrivals.items()}
    delays = [t - fastest[key] for seen in per_viewer for key, t in seen.items()]
    statuses = {key for key in arrivals if key[0] == "status"}
    counts = [len(seen) for seen in per_viewer]
    return {
        "viewers": len(viewers),
        "connected": sum(v.connected for v in viewers),
        "errors": sorted({v.error for v in viewers if v.error})[:3],
        "updates_min": min(counts, default=0),
        "updates_median": statistics.median(counts) if counts else 0,
        "updates_max": max(counts, default=0),
        "statuses": sorted(s for _, s in statuses),
        "all_statuses": sum(statuses <= set(seen) for seen in per_viewer),
        "final": sum(("final",) in seen for seen in per_viewer),
        "delay_p50_ms": 1000 * percentile(delays, 50),
        "delay_p95_ms": 1000 * percentile(delays, 95),
        "delay_max_ms": 1000 * max(delays, default=float("nan")),
        "latency_p95_ms": 1000 * percentile(latency, 95),
    }


_seed = count(70_000)


def api(stack: RunningStack, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    req = urllib.request.Request(f"{stack.url}{path}", data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read())


def post_run(stack: RunningStack, steps: int) -> dict:
    config = {"dataset": "ring8", "steps": steps, "seed": next(_seed), "bins": 128}
    return api(stack, "/api/runs/", {"recipe": "ar-grid-2d", "config": config})


def wait_running(stack: RunningStack, run_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while api(stack, f"/api/runs/{run_id}/")["status"] != "running":
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not start")
        time.sleep(0.2)


def watch_one_run_from_the_start(stack: RunningStack, viewers: int, steps: int, workers: int) -> list[Viewer]:
    """``viewers`` sockets on one run, all connected before it starts: long "blocker" runs hold
    every worker process while the crowd connects, then are cancelled, and the run starts."""
    blockers = [post_run(stack, 20_000) for _ in range(workers)]  # the recipe's cap: about a minute
    for blocker in blockers:
        wait_running(stack, blocker["id"])
    target = post_run(stack, steps)

    def release() -> None:
        for blocker in blockers:
            api(stack, f"/api/runs/{blocker['id']}/cancel/", {})

    return asyncio.run(watch(stack.port, [target["id"]], viewers, when_connected=release, timeout=240))
