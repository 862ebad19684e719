"""Liveness checks of the pieces the site depends on: database, Redis, Celery workers."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import redis
from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class Check:
    ok: bool
    latency_ms: float
    detail: str


def _timed(fn) -> Check:
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # a health check reports every failure, whatever its type
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Check(ok=ok, latency_ms=round((time.perf_counter() - start) * 1000, 2), detail=detail)


def check_database() -> Check:
    def probe() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor

    return _timed(probe)


def check_redis() -> Check:
    def probe() -> str:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            client.ping()
        finally:
            client.close()
        return "pong"

    return _timed(probe)


def check_workers() -> Check:
    def probe() -> str:
        from atlas.celery import app

        replies = app.control.ping(timeout=settings.ATLAS_HEALTH_WORKER_TIMEOUT)
        if not replies:
            raise RuntimeError("no Celery worker answered")
        return f"{len(replies)} worker(s): " + ", ".join(sorted(name for reply in replies for name in reply))

    return _timed(probe)


def health_report() -> tuple[bool, dict]:
    checks = {"database": check_database(), "redis": check_redis()}
    # Without Redis no worker can be reached: report that instead of waiting for a ping timeout.
    checks["workers"] = check_workers() if checks["redis"].ok else Check(False, 0.0, "Redis is down")
    healthy = all(c.ok for c in checks.values())
    return healthy, {
        "status": "ok" if healthy else "unavailable",
        "checks": {k: asdict(v) for k, v in checks.items()},
    }
