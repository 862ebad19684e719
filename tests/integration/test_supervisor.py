"""`make run`'s supervisor leaves no process behind once it is stopped."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.stack import processes_with_env, start_stack

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" not in status.read_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_it_leaves_no_process_behind_when_stopped(tmp_path, sig):
    stack = start_stack(tmp_path)
    pids = stack.state["pids"]
    started = processes_with_env("ATLAS_DATA_DIR", str(tmp_path))
    # redis-server rewrites its process title over its environment, so it is checked by pid alone.
    assert {pids["worker"], pids["web"]} <= set(started), (pids, started)
    assert all(_alive(pid) for pid in pids.values())

    stack.proc.send_signal(sig)
    stack.proc.wait(timeout=60)
    stack.stop()  # already stopped: this only drops the stack's own PostgreSQL database, if any

    deadline = time.monotonic() + 10
    while processes_with_env("ATLAS_DATA_DIR", str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with_env("ATLAS_DATA_DIR", str(tmp_path)) == []
    assert not any(_alive(pid) for pid in pids.values())
    assert "stopped" in stack.output()


def test_children_die_with_a_killed_supervisor(tmp_path):
    stack = start_stack(tmp_path)
    pids = stack.state["pids"]
    stack.proc.send_signal(signal.SIGKILL)
    stack.proc.wait(timeout=10)
    stack.stop()  # already dead: this only drops the stack's own PostgreSQL database, if any
    deadline = time.monotonic() + 30
    while processes_with_env("ATLAS_DATA_DIR", str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover = processes_with_env("ATLAS_DATA_DIR", str(tmp_path)) + [p for p in pids.values() if _alive(p)]
    for pid in leftover:  # never leak into the rest of the suite, even when failing
        os.kill(pid, signal.SIGKILL)
    assert leftover == []
