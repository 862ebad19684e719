"""Live-run benchmark: latency to first progress / first preview, cached vs fresh, 1 vs 2 workers.

    .venv/bin/python bench/runs.py [--runs 3] [--batch 6] [--steps 300]

Starts the real stack (Redis, Celery worker, Daphne) on loopback, exactly as `make run` does,
and prints ratios measured side by side in this one run. Loopback only; bounded counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.sync.client import connect  # noqa: E402

from tests.stack import RunningStack, start_stack  # noqa: E402

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}
_seed = iter(range(50_000, 10**6))


def post(stack: RunningStack, config: dict, recipe: str = "ar-grid-2d") -> tuple[float, dict]:
    body = json.dumps({"recipe": recipe, "config": config}).encode()
    req = urllib.request.Request(
        f"{stack.url}/api/runs/", data=body, headers={"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as response:
        return time.perf_counter() - t0, json.loads(response.read())


def get(stack: RunningStack, run_id: str) -> dict:
    with urllib.request.urlopen(f"{stack.url}/api/runs/{run_id}/", timeout=30) as response:
        return json.loads(response.read())


def config(steps: int) -> dict:
    return {"dataset": "ring8", "steps": steps, "seed": next(_seed), "bins": 128}


def time_to_first_messages(stack: RunningStack, steps: int) -> dict[str, float]:
    t0 = time.perf_counter()
    _, run = post(stack, config(steps))
    marks: dict[str, float] = {}
    with connect(f"ws://127.0.0.1:{stack.port}/ws/runs/{run['id']}/", origin=stack.url) as ws:
        while True:
            message = json.loads(ws.recv(timeout=120))
            kind = message.get("type")
            if kind == "status" and message["status"] == "running":
                marks.setdefault("running", time.perf_counter() - t0)
            if kind in ("progress", "preview"):
                marks.setdefault(kind, time.perf_counter() - t0)
            if kind == "status" and message["status"] in TERMINAL:
                marks["done"] = time.perf_counter() - t0
                return marks


def wait_all(stack: RunningStack, ids: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        pending = {i for i in pending if get(stack, i)["status"] not in TERMINAL}
        time.sleep(0.2)
    if pending:
        raise SystemExit(f"{len(pending)} run(s) did not finish in {timeout:.0f}s")


def throughput(concurrency: int, batch: int, steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(
            Path(tmp),
            extra_args=("--concurrency", str(concurrency)),
            env={"ATLAS_RUNS_MAX_PER_CLIENT": "100"},
        )
        try:
            post(stack, config(20))  # warm the worker's imports
            time.sleep(3)
            t0 = time.perf_counter()
            ids = [post(stack, config(steps))[1]["id"] for _ in range(batch)]
            wait_all(stack, ids)
            return batch / (time.perf_counter() - t0)
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), env={"ATLAS_RUNS_MAX_PER_CLIENT": "100"})
        try:
            post(stack, config(20))
            time.sleep(3)
            marks = [time_to_first_messages(stack, args.steps) for _ in range(args.runs)]
            fresh_cfg = config(args.steps)
            t0 = time.perf_counter()
            _, run = post(stack, fresh_cfg)
            wait_all(stack, [run["id"]])
            fresh = time.perf_counter() - t0
            cached = statistics.median(post(stack, fresh_cfg)[0] for _ in range(20))
        finally:
            stack.stop()

    def med(key: str) -> float:
        return statistics.median(m[key] for m in marks)

    print(f"{'measure':48s} {'value':>10s}")
    label = f"POST → running (median of {args.runs})"
    print(f"{label:48s} {med('running'):9.2f}s")
    print(f"{'POST → first progress message':48s} {med('progress'):9.2f}s")
    print(f"{'POST → first preview':48s} {med('preview'):9.2f}s")
    print(f"{'running → first preview (target < 2 s)':48s} {med('preview') - med('running'):9.2f}s")
    print(f"{'fresh run, POST → succeeded':48s} {fresh:9.2f}s")
    print(f"{'identical request answered from the stored result':48s} {cached * 1000:8.1f}ms")
    print(f"{'ratio fresh / cached':48s} {fresh / cached:9.0f}×")
    one = throughput(1, args.batch, args.steps)
    two = throughput(2, args.batch, args.steps)
    print(f"{'throughput, 1 worker process':48s} {one:7.3f}/s")
    print(f"{'throughput, 2 worker processes':48s} {two:7.3f}/s")
    # Each worker process gets cpu_count / concurrency torch threads (atlas/runs/tasks.py), so one
    # process already trains on every core: the gain measures processes against threads, not 1 vs 2 cores.
    print(f"{'scaling 2 vs 1 processes (threads split)':48s} {two / one:9.2f}×")


if __name__ == "__main__":
    main()
