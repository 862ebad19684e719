"""Schemathesis over every operation of the OpenAPI schema, in-process (WSGI): no 5xx, every
response documented and matching its schema, every schema-violating request rejected.

Bounded: a fixed number of generated cases per operation (plus the schema's own examples and
schemathesis' coverage cases), deterministic (derandomized), so the whole file runs in well
under a minute. Runs are never sent to a worker (`enqueue` is replaced), and the POST throttle
and per-client caps answer 429 as documented.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from atlas.runs import services

SLUG_PARAMS = {"node", "source", "target", "around", "from", "to"}
# Rules a schema cannot state: which values exist, and rules across parameters.
_ALLOWED_400S = {
    ("/api/graph/", "depth"): ("Only meaningful with `around`",),
    ("/api/papers/", "year_max"): ("Must not be smaller than year_min",),
    ("/api/guide/answer/", "answers"): ("answer ",),
    # What a .npy upload must hold (its header, dtype, shape, finiteness) is beyond the schema.
    ("/api/results/score/", "samples"): ("",),
}
LENIENT: set[str] = set()  # every operation is held to rejecting bad input
COUNTS: collections.Counter = collections.Counter()
OPERATIONS: set[str] = set()


# Loaded at collection (schema generation needs no database). `schemathesis.pytest.from_fixture`
# would be the lazy alternative, but 4.32 reads `request.node._nodeid`, which pytest 9 removed.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())


@pytest.fixture(scope="module", autouse=True)
def _one_connection() -> Iterator[None]:
    # Like Django's test client: one connection for the whole test (its transaction), not one per request.
    request_started.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        print(
            f"\nschemathesis: {len(OPERATIONS)} operations, {sum(COUNTS.values())} requests, {dict(COUNTS)}"
        )


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch) -> None:
    monkeypatch.setattr(services, "enqueue", lambda run: None)


@pytest.fixture(scope="module", autouse=True)
def _populated(django_db_setup, django_db_blocker, real_content, tmp_path_factory) -> Iterator[None]:
    """Responses are checked against real data, not an empty table: a run in every state (one of
    them really trained, with its artifacts and metrics, so it is also a board entry) and the
    published experiment records. Committed for the module, removed after it."""
    from django.test import override_settings

    from atlas.experiments import published
    from atlas.experiments.models import ExperimentRecord
    from atlas.runs import execution
    from atlas.runs.models import Run, RunStatus

    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")), django_db_blocker.unblock():
        real = services.request_run("ar-grid-2d", {"dataset": "ring8", "steps": 30, "seed": 5}, "test")[0]
        execution.execute(services.acquire(real.pk)[0])
        for seed, state in enumerate(s for s in RunStatus.values if s != RunStatus.SUCCEEDED):
            run = services.request_run(
                "ar-grid-2d", {"dataset": "ring8", "steps": 30, "seed": 10 + seed}, "t"
            )[0]
            Run.objects.filter(pk=run.pk).update(status=state, status_reason=f"set by the test: {state}")
        published.load()
        try:
            yield
        finally:
            Run.objects.all().delete()
            ExperimentRecord.objects.all().delete()


def semantic_400s_only_for_unknown_slugs(ctx, response, case) -> None:
    """A schema-valid request may still be a 400 when a slug names no node (a schema cannot list the
    slugs of the content); any other 400 on a schema-valid request is a disagreement between the
    schema and the validation."""
    meta = case.meta
    if response.status_code != 400 or meta is None or not meta.generation.mode.is_positive:
        return None
    body = response.json()
    unexplained = {
        name
        for name, messages in body.items()
        if not any(
            all(fragment in m for m in messages)
            for fragment in _ALLOWED_400S.get(
                (case.operation.path, name), ("No node",) if name in SLUG_PARAMS else ()
            )
        )
    }
    assert not unexplained, f"schema-valid request rejected for {sorted(unexplained)}: {body}"
    return None


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case):
    excluded = [schemathesis.checks.positive_data_acceptance]  # replaced by the stricter check below
    if case.operation.label in LENIENT:
        excluded.append(schemathesis.checks.negative_data_rejection)
    response = case.call_and_validate(
        excluded_checks=excluded, additional_checks=[semantic_400s_only_for_unknown_slugs]
    )
    OPERATIONS.add(case.operation.label)
    COUNTS[response.status_code] += 1
    assert response.status_code < 500
