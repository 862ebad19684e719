"""`make run`'s supervisor leaves no process behind once it is stopped."""

from __future__ import annotations

import contextlib
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


def _describe(pid: int) -> str:
    """The process's command line and parent, to name which one outlived the supervisor."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        ppid = next(
            line.split()[1]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("PPid")
        )
    except (FileNotFoundError, ProcessLookupError):
        return "(gone)"
    return f"{cmdline.strip()} (parent {ppid})"


def _survivors(data_dir: Path, pids: dict[str, int]) -> set[int]:
    return set(processes_with_env("ATLAS_DATA_DIR", str(data_dir))) | {p for p in pids.values() if _alive(p)}


def _survivors_after(seconds: float, data_dir: Path, pids: dict[str, int]) -> dict[int, str]:
    """The stack's processes still alive after up to ``seconds``, described.

    Waits on both views: a process that is exiting has already lost its environment (so the
    environment scan no longer sees it) while its pid is not yet a zombie."""
    deadline = time.monotonic() + seconds
    while _survivors(data_dir, pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return {pid: _describe(pid) for pid in _survivors(data_dir, pids)}


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

    assert _survivors_after(10, tmp_path, pids) == {}
    assert "stopped" in stack.output()


def test_children_die_with_a_killed_supervisor(tmp_path):
    stack = start_stack(tmp_path)
    pids = stack.state["pids"]
    stack.proc.send_signal(signal.SIGKILL)
    stack.proc.wait(timeout=10)
    stack.stop()  # already dead: this only drops the stack's own PostgreSQL database, if any
    survivors = _survivors_after(30, tmp_path, pids)
    for pid in survivors:  # never leak into the rest of the suite, even when failing
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert survivors == {}
