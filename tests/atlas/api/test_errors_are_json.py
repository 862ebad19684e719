"""Every error on an API path is JSON: unknown paths, oversized bodies (413), bad values."""

from __future__ import annotations

import json

from django.conf import settings

from tests.atlas.api.conftest import get_json


def test_it_answers_an_unknown_api_path_with_json_404(api):
    response = api.get("/api/no-such-resource/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}


def test_it_answers_an_oversized_body_with_json_413(api):
    body = json.dumps({"recipe": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = api.post("/api/runs/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_it_keeps_html_error_pages_outside_the_api(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_it_lists_the_valid_values_of_a_rejected_choice(api):
    body = get_json(api, "/api/nodes/?kind=bogus", status=400)
    assert any("Valid values:" in m and "failure-mode" in m for m in body["kind"])


def test_it_lists_the_valid_values_of_a_rejected_run_status(api):
    body = get_json(api, "/api/runs/?status=bogus", status=400)
    assert any("Valid values:" in m and "succeeded" in m for m in body["status"])
