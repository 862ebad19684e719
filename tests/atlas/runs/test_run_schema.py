"""The OpenAPI schema of POST /api/runs/ says what the API accepts: schemathesis' requests generated
from it are accepted when they fit it (201, or 200 for an identical one) and rejected with a 400
when they do not. So every rejection is one the schema predicts."""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from atlas.runs import recipes
from atlas.runs.serializers import run_request_schema
from atlas.runs.views import RunThrottle

pytestmark = pytest.mark.django_db
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler()).include(
    path="/api/runs/", method="POST"
)
OUTCOMES: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _one_connection() -> Iterator[None]:
    request_started.disconnect(close_old_connections)  # the test's transaction, as the test client
    try:
        yield
    finally:
        request_started.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_caps(settings_fixture, monkeypatch) -> None:
    """Neither the throttle nor the caps on active runs answer: only the validation does."""
    settings_fixture.ATLAS_RUNS_MAX_PER_CLIENT = settings_fixture.ATLAS_RUNS_MAX_ACTIVE = 10**6
    monkeypatch.setattr(RunThrottle, "allow_request", lambda self, request, view: True)


@pytest.fixture
def settings_fixture(settings):
    return settings


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_schema_valid_run_requests_are_accepted_and_invalid_ones_rejected(case):
    response = case.call()
    assert response.status_code < 500
    if case.method.upper() != "POST":  # schemathesis also tries other methods (OPTIONS answers 200)
        return
    positive = case.meta is None or case.meta.generation.mode.is_positive
    OUTCOMES[(positive, response.status_code)] += 1
    if positive:
        assert response.status_code in (200, 201), (case.body, response.text[:500])
    else:  # a body that breaks the schema: 400; another media type: 415
        assert response.status_code in (400, 415), (case.media_type, case.body, response.status_code)


def test_the_schema_lists_every_recipe_with_its_config_schema():
    variants = run_request_schema()["oneOf"]
    assert [v["properties"]["recipe"]["enum"] for v in variants] == [[r.slug] for r in recipes.RECIPES]
    for variant, recipe in zip(variants, recipes.RECIPES, strict=True):
        config = variant["properties"]["config"]
        assert config["properties"] == recipe.json_schema()["properties"]
        assert config["additionalProperties"] is False


def test_both_valid_and_invalid_requests_were_generated():
    """The checks above held on both kinds (run after them, in file order)."""
    if not OUTCOMES:
        pytest.skip("run together with the generated cases")
    assert OUTCOMES[(True, 201)] > 0
    assert sum(n for (positive, status), n in OUTCOMES.items() if not positive and status == 400) > 0
