"""Wizard tests run against the real content, loaded once for this package and removed afterwards
(the load is committed outside the test transactions, so other packages still see an empty db)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from atlas.content.loader import load
from atlas.graph import services as graph
from atlas.graph.models import ContentVersion, Node
from atlas.papers.models import Paper


def _clear() -> None:
    Node.objects.all().delete()
    Paper.objects.all().delete()
    ContentVersion.objects.all().delete()
    graph.clear_cache()


@pytest.fixture(scope="package")
def real_content(django_db_setup, django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        _clear()
        load(settings.CONTENT_DIR)
        graph.clear_cache()
        try:
            yield
        finally:
            _clear()


@pytest.fixture(autouse=True)
def _content(real_content, db) -> None:
    """Every test here sees the loaded content."""
