"""Many viewers of one run, and many runs watched at once, against the real stack: every viewer
gets every status change and the final result, and a socket hears about its own run only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.integration.viewers import api, post_run, summarize, watch, watch_one_run_from_the_start
from tests.stack import RunningStack, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORKERS = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[RunningStack]:
    env = {
        "ATLAS_RUNS_MAX_PER_CLIENT": "100",
        "ATLAS_RUNS_MAX_ACTIVE": "100",
        "ATLAS_RUNS_THROTTLE": "10000/min",
    }
    running = start_stack(
        tmp_path_factory.mktemp("fanout"), env=env, extra_args=("--concurrency", str(WORKERS))
    )
    try:
        yield running
    finally:
        running.stop()


def test_a_hundred_viewers_of_one_run_each_get_every_status_change_and_the_result(stack):
    crowd = watch_one_run_from_the_start(stack, viewers=100, steps=300, workers=WORKERS)
    summary = summarize(crowd)
    assert summary["connected"] == 100, summary["errors"]
    assert summary["statuses"] == ["running", "succeeded"], summary
    assert summary["all_statuses"] == 100 and summary["final"] == 100, summary
    final = [message for _, message in crowd[0].messages() if message.get("final")][0]
    assert final["run"]["status"] == "succeeded" and final["run"]["metrics"]
    assert summary["updates_min"] >= 5  # progress arrives too (coalesced, never all dropped)


def test_twenty_runs_watched_at_once_stay_isolated(stack):
    runs = [post_run(stack, steps=60) for _ in range(20)]
    crowd = asyncio.run(watch(stack.port, [run["id"] for run in runs], per_run=3, timeout=300))
    assert all(viewer.connected for viewer in crowd), {v.error for v in crowd}
    for viewer in crowd:
        messages = [message for _, message in viewer.messages()]
        ids = {m.get("run") if m["type"] != "snapshot" else m["run"]["id"] for m in messages}
        assert ids == {viewer.run_id}, ids
        # The final result: pushed, or in the snapshot of a viewer that connected after the end.
        assert messages[-1]["type"] == "snapshot" and messages[-1]["run"]["status"] == "succeeded"
    assert all(api(stack, f"/api/runs/{run['id']}/")["status"] == "succeeded" for run in runs)
