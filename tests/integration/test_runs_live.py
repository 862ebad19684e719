"""Live runs against real Redis and real worker processes: progress over websockets, and the
reliability cases — killed worker child, killed worker, always-crashing run, duplicate delivery,
Redis restarted mid-run — each ending in a definite state."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from celery import Celery
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.stack import RunningStack, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}
FAST_REAPER = {
    "ATLAS_RUN_HEARTBEAT_TIMEOUT": "4",
    "ATLAS_RUN_REQUEUE_AFTER": "8",
    "ATLAS_REAPER_EVERY": "1",
    "ATLAS_RUN_PREVIEW_EVERY": "1",
}
_seed = iter(range(1000, 100000))


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("runs"), env=FAST_REAPER)
    try:
        yield running
    finally:
        running.stop()


def request(stack: RunningStack, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{stack.url}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def new_run(stack: RunningStack, steps: int = 400, **config) -> dict:
    config = {"dataset": "ring8", "steps": steps, "seed": next(_seed), "bins": 128, **config}
    status, body = request(stack, "POST", "/api/runs/", {"recipe": "ar-grid-2d", "config": config})
    assert status == 201, body
    return body


def get_run(stack: RunningStack, run_id: str) -> dict:
    return request(stack, "GET", f"/api/runs/{run_id}/")[1]


def wait_for(check: Callable[[], dict | None], timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_status(stack, run_id: str, statuses: set[str], timeout: float = 120) -> dict:
    return wait_for(lambda: (r := get_run(stack, run_id))["status"] in statuses and r, timeout, f"{statuses}")


def wait_running_on_a_worker(stack, run_id: str, attempt: int = 1, timeout: float = 60) -> dict:
    def check():
        run = get_run(stack, run_id)
        ok = run["status"] == "running" and run["attempts"] == attempt
        return run if ok and run["result"].get("worker_pid") and run["progress"].get("step") else None

    return wait_for(check, timeout, f"attempt {attempt} running")


def socket_for(stack: RunningStack, run_id: str):
    return connect(f"ws://127.0.0.1:{stack.port}/ws/runs/{run_id}/", origin=stack.url, open_timeout=10)


def test_a_run_streams_progress_and_previews_and_stores_its_result(stack):
    run = new_run(stack, steps=600)
    messages: list[tuple[float, dict]] = []
    with socket_for(stack, run["id"]) as ws:
        while True:
            message = json.loads(ws.recv(timeout=120))
            messages.append((time.monotonic(), message))
            if message.get("type") == "status" and message["status"] in TERMINAL:
                break
    kinds = [m["type"] for _, m in messages]
    assert kinds[0] == "snapshot"
    assert kinds.count("progress") >= 3 and "preview" in kinds
    assert all(m.get("run") == run["id"] for _, m in messages[1:])
    started = next(t for t, m in messages if m["type"] == "status" and m["status"] == "running")
    first_preview = next(t for t, m in messages if m["type"] == "preview")
    assert first_preview - started < 2.0, f"first preview {first_preview - started:.2f}s after the start"

    done = get_run(stack, run["id"])
    assert done["status"] == "succeeded", done["status_reason"]
    assert done["metrics"]["likelihood"]["kind"] == "exact" and done["result"]["steps"] == 600
    png_url = urllib.parse.urljoin(stack.url, done["artifacts"]["samples_png"])  # absolute in the API
    with urllib.request.urlopen(png_url, timeout=10) as png:
        assert png.status == 200 and png.read(8) == b"\x89PNG\r\n\x1a\n"
    assert request(stack, "GET", f"/api/runs/{run['id']}/")[1]["preview"]["kind"] == "points2d"


def test_an_identical_request_returns_the_stored_result(stack):
    run = new_run(stack, steps=50)
    wait_status(stack, run["id"], TERMINAL)
    status, again = request(stack, "POST", "/api/runs/", {"recipe": "ar-grid-2d", "config": run["config"]})
    assert status == 200 and again["id"] == run["id"] and again["status"] == "succeeded"


def test_a_socket_only_hears_about_its_own_run_and_foreign_origins_are_refused(stack):
    first, second = new_run(stack, steps=300), new_run(stack, steps=300)
    with socket_for(stack, first["id"]) as ws:
        seen = []
        while not (seen and seen[-1].get("type") == "status" and seen[-1]["status"] in TERMINAL):
            seen.append(json.loads(ws.recv(timeout=120)))
    assert {m["run"] for m in seen[1:]} == {first["id"]}
    wait_status(stack, second["id"], TERMINAL)
    with pytest.raises(InvalidStatus) as refused:  # noqa: SIM117
        with connect(f"ws://127.0.0.1:{stack.port}/ws/runs/{first['id']}/", origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403


def test_cancel_stops_a_running_run_within_seconds(stack):
    run = new_run(stack, steps=20000)
    wait_running_on_a_worker(stack, run["id"])
    asked = time.monotonic()
    assert request(stack, "POST", f"/api/runs/{run['id']}/cancel/")[0] == 200
    done = wait_status(stack, run["id"], TERMINAL, timeout=30)
    assert done["status"] == "cancelled" and time.monotonic() - asked < 10


def test_a_killed_worker_child_is_replaced_and_the_run_finishes(stack):
    run = new_run(stack, steps=600)
    running = wait_running_on_a_worker(stack, run["id"])
    os.kill(running["result"]["worker_pid"], signal.SIGKILL)
    done = wait_status(stack, run["id"], TERMINAL, timeout=120)
    assert done["status"] == "succeeded", done["status_reason"]
    assert done["attempts"] == 2
    assert any("took over" in e["reason"] for e in done["events"])


def test_a_killed_worker_is_reaped_within_60s_and_the_run_finishes(stack):
    run = new_run(stack, steps=600)
    wait_running_on_a_worker(stack, run["id"])
    os.killpg(stack.state["pids"]["worker"], signal.SIGKILL)  # the worker and its pool; the stack restarts it
    killed = time.monotonic()
    wait_for(lambda: get_run(stack, run["id"])["status"] != "running" or None, 60, "the reaper")
    assert time.monotonic() - killed < 60
    done = wait_status(stack, run["id"], TERMINAL, timeout=180)
    assert any("worker lost" in e["reason"] for e in done["events"])
    assert done["status"] == "succeeded", done["status_reason"]


def test_a_run_that_always_kills_its_worker_fails_after_max_attempts(stack):
    run = new_run(stack, steps=20000)
    for attempt in (1, 2, 3):
        try:
            running = wait_running_on_a_worker(stack, run["id"], attempt=attempt, timeout=90)
        except AssertionError:
            print(json.dumps(get_run(stack, run["id"])["events"], indent=1), stack.output()[-6000:])
            raise
        os.kill(running["result"]["worker_pid"], signal.SIGKILL)
    done = wait_status(stack, run["id"], TERMINAL, timeout=90)
    assert done["status"] == "failed" and done["attempts"] == 3
    assert "3 attempt" in done["status_reason"] or "3 time" in done["status_reason"]


def test_a_duplicate_delivery_never_runs_twice(stack):
    run = new_run(stack, steps=800)
    pk = wait_for(lambda: get_run(stack, run["id"])["status"] == "running" or None, 60, "running")
    assert pk
    client = Celery(broker=stack.redis_url, backend=stack.redis_url)
    from_db = _pk_of(stack, run["id"])
    client.send_task("compute.tasks.execute_run", args=[from_db], queue="cpu")  # the same message, again
    done = wait_status(stack, run["id"], TERMINAL, timeout=120)
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert [e["to_status"] for e in done["events"]].count("running") == 1


def _pk_of(stack: RunningStack, public_id: str) -> int:
    import sqlite3

    db = stack.data_dir / "db.sqlite3"
    if stack.database_url:
        import psycopg

        with psycopg.connect(stack.database_url) as conn:
            return conn.execute(
                "SELECT id FROM atlas_runs_run WHERE public_id = %s", (public_id,)
            ).fetchone()[0]
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT id FROM atlas_runs_run WHERE public_id = ?", (public_id.replace("-", ""),)
        ).fetchone()[0]


def test_a_redis_restart_mid_run_keeps_the_site_up_and_ends_the_run(stack):
    if "redis" not in stack.state["pids"]:
        pytest.skip("Redis is an external service here (REDIS_URL); the stack cannot restart it")
    earlier = new_run(stack, steps=50)
    wait_status(stack, earlier["id"], TERMINAL)
    run = new_run(stack, steps=600)
    wait_running_on_a_worker(stack, run["id"])
    os.kill(stack.state["pids"]["redis"], signal.SIGKILL)
    with urllib.request.urlopen(f"{stack.url}/", timeout=10) as page:
        assert page.status == 200
    done = wait_status(stack, run["id"], TERMINAL, timeout=180)
    assert done["status"] in TERMINAL
    assert get_run(stack, earlier["id"])["metrics"], "a stored result was lost"
