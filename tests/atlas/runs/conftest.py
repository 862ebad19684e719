"""Run tests in-process: nothing is sent to a broker; enqueued runs are recorded instead."""

from __future__ import annotations

import pytest

from atlas.runs import services


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(services, "enqueue", lambda run: sent.append(run.pk))
    return sent


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_throttle_history():
    """Throttles count in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
