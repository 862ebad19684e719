"""Before the first `content load` the pages still answer (an empty map), and unknown nodes 404."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from atlas.graph import services

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/graph.json", "/lenses/", "/unifications/", "/reading/", "/related/"])
def test_pages_render_with_no_content_loaded(url: str):
    services.clear_cache()
    assert Client().get(url, follow=True).status_code == 200


def test_the_graph_json_of_nothing_is_empty():
    data = json.loads(Client().get("/graph.json", follow=True).content)
    assert data["nodes"] == [] and data["links"] == [] and data["tours"] == []
    assert Client().get("/node/vae/").status_code == 404
