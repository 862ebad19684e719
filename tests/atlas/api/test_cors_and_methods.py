"""CORS for read-only GETs under /api/; every content endpoint refuses writes."""

from __future__ import annotations

import pytest

READ_URLS = [
    "/api/nodes/",
    "/api/nodes/vae/",
    "/api/edges/",
    "/api/graph/",
    "/api/path/?from=vae&to=gan",
    "/api/lenses/",
    "/api/papers/",
    "/api/results/",
    "/api/guide/",
    "/api/guide/answer/",
]


@pytest.mark.parametrize("url", READ_URLS)
def test_gets_are_readable_cross_origin(api, url):
    response = api.get(url, HTTP_ORIGIN="https://example.org")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_allows_only_read_methods(api):
    response = api.options(
        "/api/nodes/", HTTP_ORIGIN="https://example.org", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    allowed = {m.strip() for m in response["Access-Control-Allow-Methods"].split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("url", READ_URLS)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_content_is_read_only(api, url, method):
    response = getattr(api, method)(url, data={}, format="json")
    assert response.status_code == 405


def test_head_works_like_get_without_a_body(api):
    response = api.head("/api/nodes/vae/")
    assert response.status_code == 200 and response.content == b"" and response["ETag"]
