"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.stack import EmbeddedRedis, RunningStack, start_redis, start_stack


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: the one REDIS_URL names (CI's service pass), else an embedded redis-server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server: EmbeddedRedis = start_redis()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The whole stack started as `make run` starts it, on a free port and its own data dir, plus the
    test-only probe task and socket (tests/probe)."""
    probe = {"DJANGO_SETTINGS_MODULE": "tests.probe.settings"}
    stack = start_stack(tmp_path_factory.mktemp("stack"), env=probe)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """The suite shares 2 cores with the processes it starts; one torch thread avoids oversubscription."""
    import torch

    torch.set_num_threads(1)
