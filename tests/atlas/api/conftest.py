"""API tests run against the real content, loaded once for this package and removed afterwards.

The load is committed outside any test transaction (each test still runs in its own transaction
and rolls back what it writes, e.g. runs), and deleted when the package is done, so that other
test packages, which expect an empty database, never see it.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

# Imported fixtures are registered in this conftest, so they apply to this package only.
from tests.atlas.fixtures import real_content, with_real_content  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Tests change rows inside their transaction without a content load: forget cached answers."""
    from django.core.cache import cache

    from atlas.api.conditional import responses

    cache.clear()
    responses.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def get_json(api: APIClient, url: str, status: int = 200, **headers) -> dict:
    response = api.get(url, **headers)
    assert response.status_code == status, (url, response.status_code, response.content[:500])
    return response.json()


def walk(api: APIClient, url: str) -> list[dict]:
    """Every item of a paginated list, following `next` to the end."""
    items: list[dict] = []
    while url:
        body = get_json(api, url)
        items.extend(body["results"])
        url = body["next"]
    return items
