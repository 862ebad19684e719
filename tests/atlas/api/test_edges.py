"""/api/edges/: filters by kind, source, target and either end."""

from __future__ import annotations

from atlas.graph.models import Edge
from tests.atlas.api.conftest import get_json, walk


def test_it_lists_every_edge_once(api):
    items = walk(api, "/api/edges/?page_size=200")
    keys = [(e["source"], e["target"], e["kind"]) for e in items]
    assert len(keys) == len(set(keys)) == Edge.objects.count()


def test_it_filters_by_kind_and_source(api):
    items = walk(api, "/api/edges/?kind=variant_of&source=ddim")
    assert {
        "source": "ddim",
        "target": "ddpm",
        "kind": "variant_of",
        "text": "",
        "style": "solid",
        "origin": "parent",
    } in items
    assert all(item["kind"] == "variant_of" and item["source"] == "ddim" for item in items)


def test_node_matches_either_end(api):
    items = walk(api, "/api/edges/?node=ddpm")
    assert items and all("ddpm" in (e["source"], e["target"]) for e in items)
    assert (
        len(items)
        == Edge.objects.filter(source__slug="ddpm").count() + Edge.objects.filter(target__slug="ddpm").count()
    )
    into = walk(api, "/api/edges/?target=ddpm")
    assert all(e["target"] == "ddpm" for e in into)


def test_an_unknown_node_is_a_400_naming_the_parameter(api):
    body = get_json(api, "/api/edges/?source=no-such-node&kind=fixes", status=400)
    assert list(body) == ["source"]
    assert get_json(api, "/api/edges/?kind=friendship", status=400).keys() == {"kind"}
