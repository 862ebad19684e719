"""The site's one cache for things derived from a version of the data: the Django cache (Redis in
production, shared by every web process; local memory in tests).

A key names the version it was built from, so an entry never goes stale: after `manage.py content
load` (or a finished run) the new version makes new keys, the old entries are never asked for
again and expire. The cache is an accelerator, never a dependency: if it cannot be reached, the
value is built as on a miss.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")
TTL_S = 24 * 3600


def versioned_key(namespace: str, version: str, *parts: str) -> str:
    return ":".join((namespace, version, *parts))


def get_or_build(namespace: str, version: str, parts: tuple[str, ...], build: Callable[[], T]) -> T:
    """The value kept under (namespace, version, parts), or `build()`, kept for the next request.
    `build` may raise (a 404, say): nothing is kept then."""
    key = versioned_key(namespace, version, *parts)
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - an unreachable cache is a miss, not an error
        value = None
    if value is not None:
        return value
    value = build()
    with contextlib.suppress(Exception):  # the value was built; keeping it is best effort
        cache.set(key, value, timeout=TTL_S)
    return value
