"""The site's one cache for derived data (`atlas.core.cache`): versioned keys, built once per
version, and never a dependency."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from atlas.core import cache as versioned


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def test_a_value_is_built_once_per_version() -> None:
    builds: list[str] = []

    def build(value: str):
        return lambda: builds.append(value) or value

    assert versioned.get_or_build("t", "v1", ("a",), build("first")) == "first"
    assert versioned.get_or_build("t", "v1", ("a",), build("second")) == "first"  # kept
    assert versioned.get_or_build("t", "v2", ("a",), build("third")) == "third"  # a new version
    assert builds == ["first", "third"]


def test_a_failed_build_keeps_nothing() -> None:
    def fail() -> str:
        raise LookupError("no such node")

    with pytest.raises(LookupError):
        versioned.get_or_build("t", "v1", ("gone",), fail)
    assert versioned.get_or_build("t", "v1", ("gone",), lambda: "now") == "now"


def test_an_unreachable_cache_builds_the_value(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(versioned.cache, "get", broken)
    monkeypatch.setattr(versioned.cache, "set", broken)
    assert versioned.get_or_build("t", "v1", ("a",), lambda: "built") == "built"
