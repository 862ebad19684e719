"""/api/nodes/: filters by kind, family and text, ordering, and one node with its typed edges."""

from __future__ import annotations

from atlas.graph.models import Edge, Node
from tests.atlas.api.conftest import get_json, walk


def test_it_lists_every_node_once(api):
    items = walk(api, "/api/nodes/?page_size=100")
    slugs = [item["slug"] for item in items]
    assert len(slugs) == len(set(slugs)) == Node.objects.count()


def test_it_filters_by_kind(api):
    items = walk(api, "/api/nodes/?kind=family")
    assert sorted(item["slug"] for item in items) == sorted(
        ["vae", "gan", "diffusion", "flow", "ebm", "autoregressive"]
    )
    assert {item["kind"] for item in items} == {"family"}


def test_it_filters_by_family(api):
    items = walk(api, "/api/nodes/?family=gan&page_size=200")
    expected = {n.slug for n in Node.objects.all() if "gan" in n.families}
    assert {item["slug"] for item in items} == expected
    assert all("gan" in item["families"] for item in items)


def test_it_combines_kind_family_and_text(api):
    items = walk(api, "/api/nodes/?kind=method&family=diffusion&q=DENOISING")
    assert items and all(i["kind"] == "method" and "diffusion" in i["families"] for i in items)
    assert "ddpm" in {i["slug"] for i in items}


def test_text_search_needs_every_word(api):
    both = {i["slug"] for i in walk(api, "/api/nodes/?q=score%20matching")}
    score = {i["slug"] for i in walk(api, "/api/nodes/?q=score")}
    assert both and both <= score
    assert walk(api, "/api/nodes/?q=zzzzqqqq") == []


def test_it_orders_by_title_and_reverse(api):
    items = walk(api, "/api/nodes/?kind=family&ordering=title")
    assert [i["title"] for i in items] == sorted(i["title"] for i in items)
    reverse = walk(api, "/api/nodes/?kind=family&ordering=-title")
    assert [i["slug"] for i in reverse] == [i["slug"] for i in items][::-1]


def test_a_node_comes_with_its_typed_edges_papers_and_recipes(api):
    body = get_json(api, "/api/nodes/ddpm/")
    assert body["slug"] == "ddpm" and body["kind"] == "method" and body["body_html"]
    node = Node.objects.get(slug="ddpm")
    out = Edge.objects.filter(source=node).count()
    into = Edge.objects.filter(target=node).count()
    assert len(body["edges"]) == out + into
    assert [e["direction"] for e in body["edges"]] == ["out"] * out + ["in"] * into
    for edge in body["edges"]:
        assert {"kind", "node", "text", "style", "origin"} <= set(edge)
        assert set(edge["node"]) == {"slug", "kind", "title"}
    assert [p["key"] for p in body["papers"]] == list(
        node.citations.order_by("position").values_list("paper__key", flat=True)
    )
    assert "ddpm-2d" in body["recipes"]


def test_an_unknown_node_is_404_json(api):
    response = api.get("/api/nodes/no-such-node/")
    assert response.status_code == 404 and "detail" in response.json()
    assert api.get("/api/nodes/Not%20A%20Slug/").status_code == 404
