"""POST /api/runs/ and friends: 400 with field messages for bad input (never 500), dedup, caps, cancel."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from atlas.runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def post(api: APIClient, body) -> tuple[int, dict]:
    response = api.post("/api/runs/", data=json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_it_creates_a_run_then_returns_it_for_an_identical_request(api):
    status, body = post(api, {"recipe": "ar-grid-2d", "config": {"dataset": "ring8", "steps": 10}})
    assert status == 201 and body["status"] == "queued" and body["config"]["seed"] == 0
    again, same = post(api, {"recipe": "ar-grid-2d", "config": {"steps": 10, "dataset": "ring8", "seed": 0}})
    assert again == 200 and same["id"] == body["id"]
    assert Run.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipe": "no-such", "config": {}}, "recipe"),
        ({"recipe": 5, "config": {}}, "recipe"),
        ({"config": {}}, "recipe"),
        ({"recipe": "ar-grid-2d", "config": []}, "config"),
        ({"recipe": "ar-grid-2d", "config": {"steps": "ten"}}, "config.steps"),
        ({"recipe": "ar-grid-2d", "config": {"steps": True}}, "config.steps"),
        ({"recipe": "ar-grid-2d", "config": {"steps": 10**40}}, "config.steps"),
        ({"recipe": "ar-grid-2d", "config": {"lr": "NaN"}}, "config.lr"),
        ({"recipe": "ar-grid-2d", "config": {"surprise": 1}}, "config.surprise"),
        ({"recipe": "ar-grid-2d", "config": {}, "extra": 1}, "extra"),
    ],
)
def test_it_rejects_bad_input_with_field_keyed_messages(api, body, field):
    status, errors = post(api, body)
    assert status == 400, errors
    assert field in errors
    assert Run.objects.count() == 0


def test_it_rejects_a_body_that_is_not_an_object(api):
    response = api.post("/api/runs/", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400


def test_it_answers_429_with_retry_after_beyond_the_per_client_cap(api, settings):
    settings.ATLAS_RUNS_MAX_PER_CLIENT = 1
    assert post(api, {"recipe": "ar-grid-2d", "config": {"seed": 1}})[0] == 201
    response = api.post("/api/runs/", {"recipe": "ar-grid-2d", "config": {"seed": 2}}, format="json")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert Run.objects.count() == 1


def test_it_throttles_posts(api, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "runs": "2/min"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [post(api, {"recipe": "ar-grid-2d", "config": {"seed": s}})[0] for s in range(3)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert codes[:2] == [201, 201] and codes[2] == 429
    assert api.get("/api/runs/").status_code == 200  # reads are not throttled


def test_cancel_ends_a_queued_run(api):
    _, body = post(api, {"recipe": "ar-grid-2d", "config": {}})
    response = api.post(f"/api/runs/{body['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == RunStatus.CANCELLED
    events = api.get(f"/api/runs/{body['id']}/").json()["events"]
    assert [e["to_status"] for e in events] == ["queued", "cancelled"]


def test_it_filters_runs(api):
    post(api, {"recipe": "ar-grid-2d", "config": {"dataset": "moons"}})
    post(api, {"recipe": "gan-2d", "config": {}})
    assert [r["recipe"] for r in api.get("/api/runs/?family=gan").json()["results"]] == ["gan-2d"]
    assert [r["dataset"] for r in api.get("/api/runs/?dataset=moons").json()["results"]] == ["moons"]
    assert api.get("/api/runs/?status=succeeded").json()["count"] == 0


def test_recipes_describe_their_parameters_as_json_schema(api):
    recipes = api.get("/api/recipes/").json()
    ddpm = next(r for r in recipes if r["slug"] == "ddpm-2d")
    assert ddpm["config_schema"]["properties"]["steps"]["maximum"] == ddpm["steps_max"]
    assert api.get("/api/recipes/ddpm-2d/").status_code == 200
    assert api.get("/api/recipes/nope/").status_code == 404


def test_an_unknown_run_is_404(api):
    assert api.get("/api/runs/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert api.get("/api/runs/not-a-uuid/").status_code == 404
