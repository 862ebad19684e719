"""Workers on more than one host: two Celery worker processes with different host names (-n) join
by pointing at the same PostgreSQL database and Redis. Runs spread over both, and a run whose worker
dies is taken over by the other once the reaper sees its heartbeat stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from celery import Celery

from tests.stack import ROOT, fresh_postgres_database, start_redis

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SERVER = os.environ.get("DATABASE_URL", "")
if not SERVER.startswith(("postgres://", "postgresql://")):
    SERVER = "postgres://postgres@127.0.0.1:5432/atlas"
HOSTS = ("atlas@host-a", "atlas@host-b")
FAST_REAPER = {"ATLAS_RUN_HEARTBEAT_TIMEOUT": "4", "ATLAS_RUN_REQUEUE_AFTER": "8", "ATLAS_REAPER_EVERY": "1"}


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(SERVER.rsplit("/", 1)[0] + "/postgres", connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@dataclass
class Cluster:
    env: dict[str, str]
    workers: dict[str, subprocess.Popen]
    database_url: str

    def rows(self, sql: str, *args) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, args).fetchall()

    def request_runs(self, steps: int, seeds: list[int]) -> list[int]:
        code = (
            "import json; from atlas.runs import services; print(json.dumps([services.request_run("
            f"'ar-grid-2d', {{'dataset': 'ring8', 'steps': {steps}, 'seed': s, 'bins': 128}})[0].pk "
            f"for s in {seeds!r}]))"
        )
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    def run(self, pk: int) -> tuple[str, int]:
        return self.rows("SELECT status, attempts FROM atlas_runs_run WHERE id = %s", pk)[0]

    def starts(self, pk: int) -> list[str]:
        """Reasons of the run's moves to running, in order ("started on atlas@host-a", ...)."""
        return [
            r
            for (r,) in self.rows(
                "SELECT reason FROM atlas_runs_runevent"
                " WHERE run_id = %s AND to_status = 'running' ORDER BY id",
                pk,
            )
        ]

    def start_worker(self, name: str) -> None:
        self.workers[name] = _spawn(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "atlas",
                "worker",
                "-Q",
                "cpu",
                "-c",
                "1",
                "-n",
                name,
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            self.env,
        )

    def wait_for_workers(self, names: set[str], timeout: float = 90) -> None:
        app = Celery(broker=self.env["REDIS_URL"])
        answered: set[str] = set()
        deadline = time.monotonic() + timeout
        while not names <= answered and time.monotonic() < deadline:
            answered |= {name for reply in app.control.ping(timeout=1.0) for name in reply}
        assert names <= answered, answered

    def wait_started(self, pk: int) -> str:
        """The worker that holds the run now (from its latest start event), once it trains."""
        starts = self.wait(lambda: self.run(pk)[0] == "running" and self.starts(pk), 90, "the run to start")
        return starts[-1].rsplit(" on ", 1)[1]

    def wait_end(self, pk: int) -> tuple[str, int]:
        ended = {"succeeded", "failed", "cancelled", "timed_out"}
        return self.wait(lambda: (s := self.run(pk))[0] in ended and s, 240, "the end of the run")

    def wait(self, check, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.3)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not postgres_reachable():
        pytest.skip(f"PostgreSQL is not reachable at {SERVER.rsplit('/', 1)[0]}")
    database_url, drop = fresh_postgres_database(SERVER)
    redis = start_redis()
    env = {
        **os.environ,
        **FAST_REAPER,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "DJANGO_SETTINGS_MODULE": "atlas.settings.dev",
        # Both "hosts" share this machine: one torch thread each (atlas.runs.tasks divides the cores).
        "ATLAS_WORKER_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    cluster = Cluster(env=env, workers={}, database_url=database_url)
    try:
        for name in HOSTS:  # one process per "host", each under its own node name
            cluster.start_worker(name)
        cluster.workers["reaper"] = _spawn([sys.executable, "manage.py", "runs", "reap", "--loop"], env)
        cluster.wait_for_workers(set(HOSTS))
        yield cluster
    finally:
        for proc in cluster.workers.values():
            _stop(proc)
        redis.stop()
        drop()


def test_runs_spread_over_workers_on_two_hosts(cluster):
    runs = cluster.request_runs(steps=150, seeds=[11, 12, 13, 14])
    cluster.wait(lambda: all(cluster.run(pk)[0] == "succeeded" for pk in runs), 240, "four runs to succeed")
    hosts = {cluster.starts(pk)[0].rsplit(" on ", 1)[1] for pk in runs}
    assert hosts == set(HOSTS)


def test_a_run_on_a_stopped_worker_is_interrupted_and_finishes_on_the_other_host(cluster):
    [pk] = cluster.request_runs(steps=600, seeds=[31])
    stopped = cluster.wait_started(pk)
    other = next(h for h in HOSTS if h != stopped)
    cluster.workers[stopped].send_signal(signal.SIGTERM)  # the main process only, as `docker stop`
    cluster.workers[stopped].wait(timeout=30)
    status, starts = cluster.wait_end(pk), cluster.starts(pk)
    reasons = [r for (r,) in cluster.rows("SELECT reason FROM atlas_runs_runevent WHERE run_id = %s", pk)]
    assert status == ("succeeded", 2), (status, reasons)
    assert any(r.startswith("interrupted: the worker was stopped (SIGTERM)") for r in reasons), reasons
    assert starts[-1] == f"attempt 2 took over on {other}", starts
    cluster.start_worker(stopped)  # back for the next test
    cluster.wait_for_workers(set(HOSTS))


def test_a_run_whose_worker_dies_finishes_on_the_other_host(cluster):
    [pk] = cluster.request_runs(steps=600, seeds=[21])
    victim = cluster.wait_started(pk)
    survivor = next(h for h in HOSTS if h != victim)
    os.killpg(cluster.workers[victim].pid, signal.SIGKILL)  # the host is gone: worker and pool at once
    cluster.workers[victim].wait()
    status, starts = cluster.wait_end(pk), cluster.starts(pk)
    assert status == ("succeeded", 2), (status, starts)
    assert starts[-1] == f"attempt 2 took over on {survivor}", starts
