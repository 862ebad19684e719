"""API benchmark: list, detail, graph and path endpoints against static files of the same size.

    .venv/bin/python bench/api.py [--requests 200] [--concurrency 8] [--seconds 8] [--cache both|on|off]

Starts the real stack (Redis, Celery worker, Daphne) on loopback exactly as `make run` does, with
its own data directory. Before the start it asks each endpoint once (Django test client on the
same database) for the size of its answer and writes a static file of exactly that size into
STATIC_ROOT, so the same server (WhiteNoise in the same Daphne process) serves a static twin of
every endpoint. Each target then gets a warm-up and a bounded number of keep-alive GETs from
`--concurrency` connections (or `--seconds`, whichever ends first). Printed per endpoint and per
twin: requests/second and p50/p95 latency; then the ratios endpoint / static, all measured in this
run, side by side. The last target is a conditional GET (If-None-Match → 304) of the node list
against the same conditional GET of its twin.

The API keeps rendered answers in a bounded per-process cache keyed by their ETag (see
atlas/api/conditional.py), so repeated GETs of one URL mostly measure that cache. `--cache both`
(the default) therefore runs the whole set twice on fresh stacks: once with the answer cache off
(`ATLAS_API_ANSWER_CACHE=0`: every request runs its view, the cost of a first request for a URL)
and once with it on (what popular URLs cost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack import RunningStack, start_stack  # noqa: E402

TARGETS = {
    "nodes list": "/api/nodes/?page_size=50",
    "papers list": "/api/papers/?year_min=2020&ordering=-year",
    "node detail": "/api/nodes/ddpm/",
    "paper detail": "/api/papers/ho2020ddpm/",
    "graph (all)": "/api/graph/",
    "graph around": "/api/graph/?around=ddpm&depth=2",
    "path": "/api/path/?from=vae&to=gan",
}
CONDITIONAL = ("nodes list 304", "/api/nodes/?page_size=50")
TWIN_DIR = "bench-api"
SIZES = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
sizes = {}
for path in %r:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    sizes[path] = len(response.content)
print(json.dumps(sizes))
"""
HEADER = f"{'target':<15} {'path':<42} {'bytes':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}"


@dataclass
class Result:
    path: str
    size: int
    latencies: list[float]
    seconds: float

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def twin_name(path: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in path.strip("/")) + ".json"


# --- Preparing the data directory ------------------------------------------------------------


def prepare(data_dir: Path) -> dict[str, int]:
    """Migrate, load content/, measure the answers, and write their static twins into STATIC_ROOT."""
    env = {**os.environ, "ATLAS_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "atlas.settings.test"}
    env["DATABASE_URL"] = f"sqlite:///{data_dir / 'db.sqlite3'}"
    for args in (["migrate", "--noinput", "-v", "0"], ["content", "load"]):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
        )
    out = subprocess.run(
        [sys.executable, "-c", SIZES % (list(TARGETS.values()),)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    sizes: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    twins = data_dir / "static" / TWIN_DIR
    twins.mkdir(parents=True, exist_ok=True)
    line = b'{"static twin of an API answer": "same size, served by the same server"}\n'
    for path, size in sizes.items():
        (twins / twin_name(path)).write_bytes((line * (size // len(line) + 1))[:size])
    return sizes


# --- A small keep-alive HTTP/1.1 client on asyncio ---------------------------------------------


async def _get(reader, writer, path: str, headers: dict[str, str]) -> tuple[int, int, dict[str, str]]:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n{extra}\r\n".encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    got = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    if status == 304:
        body = b""
    elif "content-length" in got:
        body = await reader.readexactly(int(got["content-length"]))
    else:  # chunked
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    return status, len(body), got


async def _worker(port, path, headers, expect, budget, deadline, latencies) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    size = 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            start = time.perf_counter()
            status, size, _ = await _get(reader, writer, path, headers)
            latencies.append(time.perf_counter() - start)
            if status != expect:
                raise RuntimeError(f"GET {path}: HTTP {status}, expected {expect}")
    finally:
        writer.close()
    return size


async def _load(port, path, headers, expect, requests, concurrency, seconds) -> Result:
    latencies: list[float] = []
    budget = [requests]
    start = time.perf_counter()
    sizes = await asyncio.gather(
        *(
            _worker(port, path, headers, expect, budget, start + seconds, latencies)
            for _ in range(concurrency)
        )
    )
    return Result(path, max(sizes), latencies, time.perf_counter() - start)


async def _etag(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        status, _, headers = await _get(reader, writer, path, {})
    finally:
        writer.close()
    if status != 200 or "etag" not in headers:
        raise RuntimeError(f"GET {path}: HTTP {status} without an ETag")
    return headers["etag"]


def measure(stack: RunningStack, path: str, args, headers=None, expect: int = 200) -> Result:
    headers = headers or {}
    asyncio.run(_load(stack.port, path, headers, expect, min(20, args.requests), 2, args.seconds))  # warm-up
    return asyncio.run(
        _load(stack.port, path, headers, expect, args.requests, args.concurrency, args.seconds)
    )


# --- Report ----------------------------------------------------------------------------------


def row(label: str, result: Result) -> str:
    shown = result.path if len(result.path) <= 42 else result.path[:39] + "..."
    return (
        f"{label:<15} {shown:<42} {result.size:>9,} {result.rps:>8.1f} "
        f"{result.percentile(0.5):>8.2f} {result.percentile(0.95):>8.2f} {len(result.latencies):>5}"
    )


def ratios(api: Result, twin: Result) -> tuple[float, float, float]:
    """(throughput, p50, p95) of the endpoint divided by those of its static twin."""
    return (
        api.rps / twin.rps,
        api.percentile(0.5) / twin.percentile(0.5),
        api.percentile(0.95) / twin.percentile(0.95),
    )


def run_pass(
    data_dir: Path, sizes: dict[str, int], args, cache: str
) -> list[tuple[str, tuple[float, float, float]]]:
    env = {"ATLAS_API_ANSWER_CACHE": "0" if cache == "off" else "512"}
    stack = start_stack(data_dir, env=env)
    summary: list[tuple[str, tuple[float, float, float]]] = []
    try:
        print(f"\n== answer cache {cache}: loopback {stack.url}, Daphne (one process), WhiteNoise")
        limits = f"up to {args.requests} GETs or {args.seconds:g} s per target"
        print(f"{args.concurrency} keep-alive connections, {limits}\n")
        print(HEADER)
        for label, path in TARGETS.items():
            api = measure(stack, path, args)
            twin = measure(stack, f"/static/{TWIN_DIR}/{twin_name(path)}", args)
            assert api.size == twin.size == sizes[path], (api.size, twin.size, sizes[path])
            print(row(label, api))
            print(row("  static twin", twin))
            summary.append((label, ratios(api, twin)))
        label, path = CONDITIONAL
        twin_path = f"/static/{TWIN_DIR}/{twin_name(path)}"
        api = measure(stack, path, args, {"If-None-Match": asyncio.run(_etag(stack.port, path))}, 304)
        twin = measure(
            stack, twin_path, args, {"If-None-Match": asyncio.run(_etag(stack.port, twin_path))}, 304
        )
        print(row(label, api))
        print(row("  static 304", twin))
        summary.append((label, ratios(api, twin)))
    finally:
        stack.stop()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="GETs per target (bounded)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--seconds", type=float, default=8.0, help="time cap per target")
    parser.add_argument(
        "--cache", choices=["both", "on", "off"], default="both", help="the API's answer cache"
    )
    args = parser.parse_args(argv)
    passes = ["off", "on"] if args.cache == "both" else [args.cache]
    summaries = {}
    with tempfile.TemporaryDirectory(prefix="atlas-bench-api-") as tmp:
        data_dir = Path(tmp)
        sizes = prepare(data_dir)
        print("Generative Atlas API benchmark: every endpoint against a static file of the same size")
        for cache in passes:
            summaries[cache] = run_pass(data_dir, sizes, args, cache)
    print(f"\n{'endpoint / static twin':<22} {'cache':>5} {'throughput':>11} {'p50':>8} {'p95':>8}")
    for label, _ in summaries[passes[0]]:
        for cache in passes:
            rps, p50, p95 = dict(summaries[cache])[label]
            print(f"{label:<22} {cache:>5} {rps:>10.2f}x {p50:>7.2f}x {p95:>7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
