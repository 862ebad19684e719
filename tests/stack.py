"""Helpers that start the real stack (`python -m atlas.stack`) and embedded Redis for tests."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis as redis_lib

from atlas.stack import find_redis_server, free_port, port_open

ROOT = Path(__file__).resolve().parent.parent


def _nothing() -> None:
    return None


@dataclass
class RunningStack:
    proc: subprocess.Popen
    data_dir: Path
    port: int
    lines: list[str] = field(default_factory=list)
    database_url: str = ""  # the stack's own PostgreSQL database; "" for SQLite in data_dir
    cleanup: Callable[[], None] = _nothing  # drops the stack's own database, if any

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> dict:
        return json.loads((self.data_dir / "stack.json").read_text())

    @property
    def redis_url(self) -> str:
        return self.state["redis_url"]

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.cleanup()
        self.cleanup = _nothing
        return self.proc.returncode


def _maintenance_conninfo(url: str) -> str:
    """The same PostgreSQL server's `postgres` database, to create and drop others from."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def fresh_postgres_database(url: str) -> tuple[str, Callable[[], None]]:
    """(URL of a new empty database on the server of ``url``, a function that drops it).

    A stack started on the shared database would find the runs of earlier test sessions there (an
    identical request then returns the stored run), so every stack gets a database of its own."""
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'atlas'}_stack_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(_maintenance_conninfo(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(_maintenance_conninfo(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def start_stack(
    data_dir: Path,
    *,
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
    timeout: float = 120,
    database_url: str = "",
):
    """Start `python -m atlas.stack` as `make run` does and wait until it prints its URL.
    ``database_url``: an existing PostgreSQL database to start on again (kept at stop)."""
    port = free_port()
    child_env = {**os.environ, **(env or {}), "ATLAS_DATA_DIR": str(data_dir), "ATLAS_PORT": str(port)}
    # dev unless the caller names another (tests.probe.settings adds the test-only probe).
    child_env["DJANGO_SETTINGS_MODULE"] = (env or {}).get("DJANGO_SETTINGS_MODULE", "atlas.settings.dev")
    child_env["DJANGO_DEBUG"] = "0"
    cleanup = _nothing
    if database_url:
        child_env["DATABASE_URL"] = database_url
    elif child_env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        database_url, cleanup = fresh_postgres_database(child_env["DATABASE_URL"])
        child_env["DATABASE_URL"] = database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "atlas.stack", "--no-gpu", "--concurrency", "2", *extra_args],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = RunningStack(proc=proc, data_dir=data_dir, port=port, database_url=database_url, cleanup=cleanup)
    ready = threading.Event()

    def pump() -> None:
        for line in proc.stdout:
            stack.lines.append(line)
            if "Generative Atlas is running at" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.is_set():
        if proc.poll() is not None or time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError(f"stack did not start:\n{stack.output()[-5000:]}")
        time.sleep(0.1)
    return stack


def processes_with_env(name: str, value: str) -> list[int]:
    """PIDs of live processes whose environment has NAME=VALUE (Linux /proc)."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(entry.name))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return found


@dataclass
class EmbeddedRedis:
    proc: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def start_redis() -> EmbeddedRedis:
    port = free_port()
    argv = [
        find_redis_server(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    redis_lib.Redis.from_url(f"redis://127.0.0.1:{port}/0").ping()
    return EmbeddedRedis(proc=proc, port=port)
