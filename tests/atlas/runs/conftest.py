"""Run tests in-process: nothing is sent to a broker; enqueued runs are recorded instead."""

from __future__ import annotations

import pytest

# Imported fixtures are registered in this conftest, so they apply to this package only.
from tests.atlas.fixtures import enqueued, media_root  # noqa: F401


@pytest.fixture(autouse=True)
def fresh_throttle_history():
    """Throttles count in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
