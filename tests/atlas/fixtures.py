"""Fixtures shared by several packages of tests/atlas.

A package's conftest imports the ones it uses, so that each is registered there: a package-scoped
fixture then lives and dies with that package, and an autouse one applies only inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from atlas.content.loader import load
from atlas.graph import services as graph
from atlas.graph.models import ContentVersion, Node
from atlas.papers.models import Paper
from atlas.runs import services


def clear_content() -> None:
    """Delete every loaded record (nodes cascade to edges, citations and lens values)."""
    Node.objects.all().delete()
    Paper.objects.all().delete()
    ContentVersion.objects.all().delete()
    graph.clear_cache()
    cache.clear()  # what was rendered from it (answers, page fragments)


@pytest.fixture(scope="package")
def real_content(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The real content/, loaded once for the package and deleted after it. The load is committed
    outside the test transactions, so that other packages, which expect an empty database, never
    see it."""
    with django_db_blocker.unblock():
        clear_content()
        load(settings.CONTENT_DIR)
        graph.clear_cache()
        try:
            yield
        finally:
            clear_content()


@pytest.fixture(autouse=True)
def with_real_content(real_content, db) -> None:
    """Every test sees the loaded content (and may write inside its own transaction)."""


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[int]:
    """Nothing is sent to a broker: the ids of the runs enqueued are recorded instead."""
    sent: list[int] = []
    monkeypatch.setattr(services, "enqueue", lambda run: sent.append(run.pk))
    return sent


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    """Run artifacts go to the test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
