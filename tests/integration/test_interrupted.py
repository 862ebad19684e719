"""Ctrl-C with a run in flight: the run is interrupted (not failed), with its reason, and the next
start of the stack re-queues it and finishes it."""

from __future__ import annotations

import time

import pytest

from tests.integration.test_runs_live import TERMINAL, new_run, wait_running_on_a_worker, wait_status
from tests.stack import start_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_run_in_flight_at_ctrl_c_is_interrupted_and_finishes_after_the_next_start(tmp_path):
    first = start_stack(tmp_path)
    drop_database, first.cleanup = first.cleanup, (lambda: None)  # the second stack reuses it
    try:
        run = new_run(first, steps=1500)
        wait_running_on_a_worker(first, run["id"])
        asked = time.monotonic()
        first.stop()  # SIGINT, as Ctrl-C in the terminal of `make run`
        assert time.monotonic() - asked < 15

        second = start_stack(tmp_path, database_url=first.database_url)
        try:
            done = wait_status(second, run["id"], TERMINAL, timeout=180)
            events = [(e["from_status"], e["to_status"], e["reason"]) for e in done["events"]]
        finally:
            second.stop()
    finally:
        drop_database()
    assert done["status"] == "succeeded", events
    interrupted = [e for e in events if e[1] == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0][0] == "running", events
    assert "interrupted" in interrupted[0][2] and "SIGTERM" in interrupted[0][2], events
    assert ("interrupted", "queued", "re-queued after an interruption") in events
    assert not any(e[1] == "failed" for e in events) and done["attempts"] == 2
