"""Pagination: `count`/`next` reach the end, every item exactly once, stable order, strict params."""

from __future__ import annotations

import pytest

from atlas.graph.models import Edge, Node
from atlas.papers.models import Paper
from tests.atlas.api.conftest import get_json, walk


@pytest.mark.parametrize(
    ("url", "total", "key"),
    [
        ("/api/nodes/?page_size=7", lambda: Node.objects.count(), "slug"),
        ("/api/nodes/?page_size=13&ordering=-order", lambda: Node.objects.count(), "slug"),
        ("/api/nodes/?page_size=11&ordering=title", lambda: Node.objects.count(), "slug"),
        ("/api/edges/?page_size=50&ordering=kind", lambda: Edge.objects.count(), None),
        ("/api/papers/?page_size=9&ordering=year", lambda: Paper.objects.count(), "key"),
        ("/api/lenses/?page_size=2", lambda: Node.objects.filter(kind__in=["lens", "axis"]).count(), "slug"),
    ],
)
def test_walking_next_visits_every_item_exactly_once(api, url, total, key):
    first = get_json(api, url)
    items = walk(api, url)
    assert first["count"] == total() == len(items)
    identities = [i[key] if key else (i["source"], i["target"], i["kind"]) for i in items]
    assert len(set(identities)) == len(identities)
    assert walk(api, url) == items  # the same order every time


def test_the_last_page_has_no_next_and_the_first_no_previous(api):
    first = get_json(api, "/api/nodes/?page_size=100")
    assert first["previous"] is None and first["next"]
    last = get_json(api, f"/api/nodes/?page_size=100&page={-(-first['count'] // 100)}")
    assert last["next"] is None and last["previous"]


def test_the_default_and_maximum_page_sizes(api):
    assert len(get_json(api, "/api/nodes/")["results"]) == 50
    assert len(get_json(api, "/api/nodes/?page_size=200")["results"]) == 200
    assert get_json(api, "/api/nodes/?page_size=201", status=400).keys() == {"page_size"}


def test_a_page_past_the_end_is_404_and_an_empty_first_page_is_fine(api):
    assert api.get("/api/nodes/?page=999").status_code == 404
    assert get_json(api, "/api/nodes/?q=zzzzqqq") == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.0",
        "page=NaN",
        "page=true",
        "page=99999999999999999999",
        "page_size=0",
        "page_size=x",
        "page=1&page=2",
    ],
)
def test_bad_page_values_are_400s_naming_them(api, query):
    body = get_json(api, f"/api/papers/?{query}", status=400)
    assert set(body) == {query.split("=")[0]}
