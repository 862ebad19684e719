"""Web benchmark: the map page, a node page and the graph JSON against static files of the same size.

    .venv/bin/python bench/web.py [--requests 400] [--concurrency 8] [--seconds 15]

Starts the real stack (Redis, Celery worker, Daphne) on loopback exactly as `make run` does, with
its own data directory. Before the start it renders the three pages once (Django test client) to
learn their sizes and writes three static files of exactly those sizes into STATIC_ROOT, so the
same server (WhiteNoise inside the same Daphne process) serves a static twin of every page. Each
target then gets a warm-up and a bounded number of keep-alive GETs from `--concurrency`
connections (or `--seconds`, whichever ends first); the script prints requests/second and
p50/p95 latency of each page and its twin, and the ratio page / static, all measured in this run.
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

HEADER = f"{'target':<12} {'path':<26} {'bytes':>9} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'n':>6}"
HEADER = f"{'target':<12} {'path':<26} {'bytes':>9} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'n':>6}"
PAGES = {"map page": "/", "node page": "/node/diffusion/", "graph JSON": "/graph.json"}
TWINS = {"/": "map.html", "/node/diffusion/": "node.html", "/graph.json": "graph.json"}
SIZES = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
print(json.dumps({path: len(client.get(path).content) for path in %r}))
"""


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


# --- Preparing the data directory ------------------------------------------------------------


def prepare(data_dir: Path) -> dict[str, int]:
    """Migrate, load content/, measure the pages, and write their static twins into STATIC_ROOT."""
    env = {**os.environ, "ATLAS_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "atlas.settings.test"}
    env["DATABASE_URL"] = f"sqlite:///{data_dir / 'db.sqlite3'}"
    for args in (["migrate", "--noinput", "-v", "0"], ["content", "load"]):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
        )
    out = subprocess.run(
        [sys.executable, "-c", SIZES % (list(PAGES.values()),)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    sizes: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    twins = data_dir / "static" / "bench"
    twins.mkdir(parents=True, exist_ok=True)
    for path, size in sizes.items():
        (twins / TWINS[path]).write_bytes(_filler(size))
    return sizes


def _filler(size: int) -> bytes:
    line = b"<!-- static twin of a page of the atlas, same size, served by the same server -->\n"
    return (line * (size // len(line) + 1))[:size]


# --- A small keep-alive HTTP/1.1 client on asyncio ---------------------------------------------


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:  # chunked
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status}")
    return len(body)


async def _worker(port: int, path: str, budget: list[int], deadline: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    size = 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            start = time.perf_counter()
            size = await _get(reader, writer, path)
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()
    return size


async def _load(port: int, path: str, requests: int, concurrency: int, seconds: float) -> Result:
    latencies: list[float] = []
    budget = [requests]
    start = time.perf_counter()
    sizes = await asyncio.gather(
        *(_worker(port, path, budget, start + seconds, latencies) for _ in range(concurrency))
    )
    return Result(path, max(sizes), latencies, time.perf_counter() - start)


def measure(stack: RunningStack, path: str, args: argparse.Namespace) -> Result:
    asyncio.run(_load(stack.port, path, min(20, args.requests), 2, args.seconds))  # warm-up
    return asyncio.run(_load(stack.port, path, args.requests, args.concurrency, args.seconds))


# --- Report ----------------------------------------------------------------------------------


def row(label: str, result: Result) -> str:
    return (
        f"{label:<12} {result.path:<26} {result.size:>9,} {result.rps:>9.1f} "
        f"{result.percentile(0.5):>9.2f} {result.percentile(0.95):>9.2f} {len(result.latencies):>6}"
    )


def ratio_row(page: Result, twin: Result) -> str:
    return (
        f"{'ratio':<12} {'page / static':<26} {'':>9} {page.rps / twin.rps:>8.2f}x "
        f"{page.percentile(0.5) / twin.percentile(0.5):>8.2f}x "
        f"{page.percentile(0.95) / twin.percentile(0.95):>8.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="GETs per target (bounded)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per target")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atlas-bench-web-") as tmp:
        data_dir = Path(tmp)
        sizes = prepare(data_dir)
        stack = start_stack(data_dir)
        try:
            print(f"Generative Atlas web benchmark: loopback {stack.url}, Daphne (one process), WhiteNoise")
            limits = f"up to {args.requests} GETs or {args.seconds:g} s per target"
            print(f"{args.concurrency} keep-alive connections, {limits}\n")
            print(HEADER)
            for label, path in PAGES.items():
                page = measure(stack, path, args)
                twin = measure(stack, f"/static/bench/{TWINS[path]}", args)
                assert twin.size == sizes[path], (twin.size, sizes[path])
                print(row(label, page))
                print(row("static twin", twin))
                print(ratio_row(page, twin))
                print()
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
