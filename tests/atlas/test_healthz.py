"""/healthz reports database, Redis and worker liveness as JSON, 503 when one is down."""

from __future__ import annotations

import pytest

from atlas.core import services


@pytest.mark.django_db
def test_it_returns_503_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["workers"]["ok"] is False


@pytest.mark.django_db
def test_it_returns_503_when_no_worker_answers(client, settings, redis_url, monkeypatch):
    settings.REDIS_URL = redis_url
    monkeypatch.setattr(
        services, "check_workers", lambda: services.Check(False, 1.0, "no Celery worker answered")
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_it_returns_200_when_everything_answers(client, settings, redis_url, monkeypatch):
    settings.REDIS_URL = redis_url
    monkeypatch.setattr(services, "check_workers", lambda: services.Check(True, 1.0, "1 worker(s)"))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_it_rejects_writes(client):
    assert client.post("/healthz").status_code == 405
