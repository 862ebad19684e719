"""Fan-out benchmark: 1, 200 and 1,000 websocket viewers of one run, side by side in one run.

    .venv/bin/python bench/fanout.py [--viewers 1,200,1000] [--steps 600]

Starts the real stack (Redis, one Celery worker process, Daphne) on loopback as `make run` does.
For each crowd size: a long "blocker" run occupies the worker, a target run is queued behind it,
N viewers connect to the target, then the blocker is cancelled, so every viewer watches the target
from its first status change to its final result. Prints per crowd: viewers connected, updates
received per viewer, how many got every status change and the final result, and the delay of each
update behind the fastest viewer that got it (p50, p95, max) and behind the worker's send (p95).
The viewers run in this one process on the same machine as the server: their own receiving is part
of the figures. Loopback only; bounded counts and time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.viewers import api, summarize, watch_one_run_from_the_start  # noqa: E402
from tests.stack import RunningStack, start_stack  # noqa: E402


def one_crowd(stack: RunningStack, viewers: int, steps: int) -> dict:
    started = time.monotonic()
    crowd = watch_one_run_from_the_start(stack, viewers, steps, workers=1)
    summary = summarize(crowd)
    summary["seconds"] = time.monotonic() - started
    summary["status"] = api(stack, f"/api/runs/{crowd[0].run_id}/")["status"]
    return summary


def load() -> str:
    """The machine's load averages (1, 5, 15 min): the server and the viewers share its cores."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


ROWS = [
    ("viewers connected", lambda s: f"{s['connected']}/{s['viewers']}"),
    (
        "updates per viewer (min / median / max)",
        lambda s: f"{s['updates_min']}/{s['updates_median']:g}/{s['updates_max']}",
    ),
    ("status changes seen", lambda s: ",".join(s["statuses"])),
    ("viewers with every status change", lambda s: str(s["all_statuses"])),
    ("viewers with the final result", lambda s: str(s["final"])),
    ("delay behind the fastest, p50 (ms)", lambda s: f"{s['delay_p50_ms']:.0f}"),
    ("delay behind the fastest, p95 (ms)", lambda s: f"{s['delay_p95_ms']:.0f}"),
    ("delay behind the fastest, max (ms)", lambda s: f"{s['delay_max_ms']:.0f}"),
    ("latency after the worker's send, p95 (ms)", lambda s: f"{s['latency_p95_ms']:.0f}"),
    ("run status / seconds watched", lambda s: f"{s['status']} / {s['seconds']:.0f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", default="1,200,1000", help="crowd sizes, comma-separated")
    parser.add_argument("--steps", type=int, default=600, help="steps of each watched run")
    args = parser.parse_args()
    sizes = [int(n) for n in args.viewers.split(",")]
    env = {"ATLAS_RUNS_MAX_PER_CLIENT": "100", "ATLAS_RUNS_THROTTLE": "10000/min"}
    print(
        f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}", flush=True
    )
    with tempfile.TemporaryDirectory(prefix="atlas-fanout-") as tmp:
        stack = start_stack(Path(tmp), env=env, extra_args=("--concurrency", "1"))
        try:
            results = {n: one_crowd(stack, n, args.steps) for n in sizes}
        finally:
            stack.stop()
    print("load after:  " + load())
    width = max(len(name) for name, _ in ROWS)
    print(f"\n{'':{width}}  " + "  ".join(f"{n:>12} viewers" for n in sizes))
    for name, cell in ROWS:
        print(f"{name:{width}}  " + "  ".join(f"{cell(results[n]):>20}" for n in sizes))
    for n in sizes:
        if results[n]["errors"]:
            print(f"{n} viewers, errors: {results[n]['errors']}")


if __name__ == "__main__":
    main()
