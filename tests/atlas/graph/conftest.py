"""The real content/, loaded once per test module into the test database and removed afterwards.

Tests marked `django_db` run inside a transaction that is rolled back, so the module's load is
shared by them and nothing leaks into other test directories (the cleanup deletes every row).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from atlas.content.loader import load
from atlas.graph import services
from atlas.graph.models import ContentVersion
from tests.atlas.fixtures import clear_content


@pytest.fixture(scope="module")
def atlas_content(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The hash of the loaded real content."""
    with django_db_blocker.unblock():
        load(settings.CONTENT_DIR, strict=False)
        version = ContentVersion.current_hash()
    services.clear_cache()
    try:
        yield version
    finally:
        with django_db_blocker.unblock():
            clear_content()
