"""Operators: the admin shows content read-only and runs with a cancel action; tokens authenticate."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from atlas.graph.models import Edge, Node
from atlas.papers.models import Paper
from atlas.runs.models import Run, RunEvent, RunStatus


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator", "op@example.org", "pw-operator-123")
    client.force_login(user)
    return user


@pytest.mark.parametrize("model", [Node, Edge, Paper, Run, RunEvent])
def test_the_models_are_registered(model):
    assert admin.site.is_registered(model)


@pytest.mark.parametrize("model", [Node, Edge, Paper, RunEvent])
def test_content_and_events_are_read_only(model, operator, rf):
    request = rf.get("/admin/")
    request.user = operator
    model_admin = admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_admin_pages_render(client, operator):
    node = Node.objects.get(slug="ddpm")
    paper = Paper.objects.get(key="ho2020ddpm")
    for url in [
        "/admin/",
        "/admin/atlas_graph/node/",
        f"/admin/atlas_graph/node/{node.pk}/change/",
        "/admin/atlas_graph/edge/?kind__exact=fixes",
        f"/admin/atlas_papers/paper/{paper.pk}/change/",
        "/admin/atlas_runs/run/",
        "/admin/atlas_runs/runevent/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.post(f"/admin/atlas_graph/node/{node.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Node.objects.filter(pk=node.pk).exists()


def test_operators_can_cancel_runs_from_the_admin(client, operator, monkeypatch):
    from atlas.runs import services

    monkeypatch.setattr(services, "enqueue", lambda run: None)
    run, _ = services.request_run("ar-grid-2d", {"steps": 10})
    response = client.post(
        "/admin/atlas_runs/run/", {"action": "cancel_runs", "_selected_action": [run.pk]}, follow=True
    )
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_an_operator_token_from_drf_create_token_authenticates(operator):
    from rest_framework.test import APIClient

    call_command("drf_create_token", "operator")
    token = Token.objects.get(user=operator)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get("/api/nodes/?kind=family")
    assert response.status_code == 200
    # A wrong token is refused, not ignored (DRF answers 403: session auth comes first in the settings).
    assert APIClient(HTTP_AUTHORIZATION="Token not-a-token").get("/api/nodes/").status_code in (401, 403)
