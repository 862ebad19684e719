"""Shared by bench/web.py and bench/api.py: static twins of real answers and a loopback load loop.

A "static twin" is a file of exactly the size of a page or API answer, written into STATIC_ROOT so
that the same server (WhiteNoise inside the same Daphne process) serves it beside the real answer:
the ratio answer / twin then isolates what Django, the database and the view cost, on the same
machine, in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SIZES = """
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
        """The q-quantile of the latencies, in milliseconds."""
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ratios(answer: Result, twin: Result) -> tuple[float, float, float]:
    """(throughput, p50, p95) of the answer divided by those of its static twin."""
    return (
        answer.rps / twin.rps,
        answer.percentile(0.5) / twin.percentile(0.5),
        answer.percentile(0.95) / twin.percentile(0.95),
    )


# --- Preparing the data directory ------------------------------------------------------------


def prepare(
    data_dir: Path, paths: Iterable[str], twin_files: dict[str, Path], filler: bytes
) -> dict[str, int]:
    """Migrate, load content/, measure each answer, and write its twin (``twin_files[path]``, relative
    to STATIC_ROOT) of exactly that size, made of repeated ``filler`` lines."""
    env = {**os.environ, "ATLAS_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "atlas.settings.test"}
    env["DATABASE_URL"] = f"sqlite:///{data_dir / 'db.sqlite3'}"
    for args in (["migrate", "--noinput", "-v", "0"], ["content", "load"]):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
        )
    out = subprocess.run(
        [sys.executable, "-c", _SIZES % (list(paths),)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    sizes: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    for path, size in sizes.items():
        twin = data_dir / "static" / twin_files[path]
        twin.parent.mkdir(parents=True, exist_ok=True)
        twin.write_bytes((filler * (size // len(filler) + 1))[:size])
    return sizes


# --- A small keep-alive HTTP/1.1 client on asyncio ---------------------------------------------


async def _get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, headers: dict[str, str]
) -> tuple[int, int, dict[str, str]]:
    """(status, body bytes, response headers) of one GET on an open keep-alive connection."""
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


@dataclass
class Target:
    port: int
    path: str
    headers: dict[str, str]
    expect: int


async def _worker(target: Target, budget: list[int], deadline: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    size = 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            start = time.perf_counter()
            status, size, _ = await _get(reader, writer, target.path, target.headers)
            latencies.append(time.perf_counter() - start)
            if status != target.expect:
                raise RuntimeError(f"GET {target.path}: HTTP {status}, expected {target.expect}")
    finally:
        writer.close()
    return size


async def _load(target: Target, requests: int, concurrency: int, seconds: float) -> Result:
    latencies: list[float] = []
    budget = [requests]  # shared by the connections: the run ends after `requests` GETs in all
    start = time.perf_counter()
    sizes = await asyncio.gather(
        *(_worker(target, budget, start + seconds, latencies) for _ in range(concurrency))
    )
    return Result(target.path, max(sizes), latencies, time.perf_counter() - start)


def measure(
    port: int,
    path: str,
    *,
    requests: int,
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    expect: int = 200,
) -> Result:
    """A short warm-up on 2 connections, then up to ``requests`` GETs or ``seconds``, whichever ends first."""
    target = Target(port, path, headers or {}, expect)
    asyncio.run(_load(target, min(20, requests), 2, seconds))
    return asyncio.run(_load(target, requests, concurrency, seconds))


def etag(port: int, path: str) -> str:
    """The ETag of one fresh GET of ``path``, for conditional-GET targets."""

    async def once() -> tuple[int, int, dict[str, str]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await _get(reader, writer, path, {})
        finally:
            writer.close()

    status, _, headers = asyncio.run(once())
    if status != 200 or "etag" not in headers:
        raise RuntimeError(f"GET {path}: HTTP {status} without an ETag")
    return headers["etag"]
