"""networkx services: the graph from the tables, cached layout, neighbourhoods, explained paths, facets."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from atlas.graph import services
from atlas.graph.models import ContentVersion, Edge, Node

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("atlas_content")]


def test_the_graph_holds_every_node_and_edge_with_their_attributes():
    graph = services.get_graph()
    assert graph.number_of_nodes() == Node.objects.count() > 250
    assert graph.number_of_edges() == Edge.objects.count()
    vae = graph.nodes["vae"]
    assert {"slug", "kind", "title", "summary", "families", "order"} <= set(vae)
    assert vae["kind"] == "family" and vae["families"] == ["vae"]
    edge = graph.edges["vae", "latent-diffusion", "lineage"]
    assert edge["kind"] == "lineage" and edge["style"] == "solid" and edge["text"]


def test_the_graph_is_built_once_per_content_version(django_assert_num_queries):
    first = services.get_graph()
    with django_assert_num_queries(3):  # one look at the content hash per call, nothing else
        assert services.get_graph() is first
        services.layout()
        services.facets()
    ContentVersion.objects.filter(id=1).update(hash="another-load")
    assert services.get_graph() is not first


def test_layout_is_deterministic_and_fills_the_box():
    graph = services.get_graph()
    positions = services.compute_layout(graph)
    assert positions == services.compute_layout(graph)
    assert set(positions) == set(graph.nodes)
    assert all(0 <= x <= services.WIDTH and 0 <= y <= services.HEIGHT for x, y in positions.values())
    assert len(set(positions.values())) > 0.95 * len(positions)  # nodes do not pile up


def test_layout_is_cached_in_process_and_across_processes(monkeypatch):
    calls: list[int] = []
    compute = services.compute_layout
    monkeypatch.setattr(services, "compute_layout", lambda graph: calls.append(1) or compute(graph))
    cache.clear()
    services.clear_cache()
    first = services.layout()
    assert services.layout() is first and len(calls) == 1
    services.clear_cache()  # a fresh process: the shared cache answers
    assert services.layout() == first and len(calls) == 1


def test_the_lineage_is_layered_left_to_right():
    graph = services.get_graph()
    positions = services.layout()
    tree = services._lineage_tree(graph)
    assert tree.number_of_edges() > 100
    assert all(positions[parent][0] < positions[child][0] for parent, child in tree.edges)
    assert positions["score-matching"][0] < positions["ncsn"][0] < positions["diffusion"][0]


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_subgraph_holds_the_nodes_within_depth_hops(depth: int):
    graph = services.get_graph()
    sub = services.subgraph("vae", depth)
    neighbours = set(graph.successors("vae")) | set(graph.predecessors("vae"))
    if depth == 0:
        assert set(sub) == {"vae"}
    elif depth == 1:
        assert set(sub) == neighbours | {"vae"}
    else:
        assert set(sub) > neighbours
    assert all(graph.has_edge(a, b, key) for a, b, key in sub.edges(keys=True))


def test_subgraph_of_an_unknown_slug_is_a_key_error():
    with pytest.raises(KeyError):
        services.subgraph("no-such-node", 1)


def test_node_link_is_stable_json_with_positions():
    data = services.node_link(services.get_graph())
    ids = [node["id"] for node in data["nodes"]]
    assert ids == sorted(ids)
    keys = [(link["source"], link["target"], link["kind"]) for link in data["links"]]
    assert keys == sorted(keys)
    node = data["nodes"][0]
    assert {"x", "y", "kind", "title", "summary", "families", "order"} <= set(node)
    assert {"kind", "text", "style"} <= set(data["links"][0])
    assert json.dumps(data) == json.dumps(services.node_link(services.get_graph()))


def test_node_link_of_a_subgraph_keeps_the_global_positions():
    positions = services.layout()
    data = services.node_link(services.subgraph("gan", 1))
    assert all((n["x"], n["y"]) == positions[n["id"]] for n in data["nodes"])


def test_paths_are_explained_hop_by_hop():
    paths = services.explained_paths("diffusion", "ebm", k=3)
    assert 1 <= len(paths) <= 3
    for path in paths:
        assert path[0]["from"] == "diffusion" and path[-1]["to"] == "ebm"
        assert all(a["to"] == b["from"] for a, b in zip(path, path[1:], strict=False))
        for hop in path:
            assert set(hop) == {"from", "to", "kind", "text", "direction"}
            assert hop["text"] and hop["direction"] in {"forward", "backward"}
    assert [len(p) for p in paths] == sorted(len(p) for p in paths) or len(paths) > 1


def test_paths_prefer_typed_relations_over_related():
    first = services.explained_paths("diffusion", "ebm")[0]
    assert all(hop["kind"] not in {"related", "cites"} for hop in first)
    hop = services.explained_paths("wgan", "gan")[0][0]
    assert hop == {
        "from": "wgan",
        "to": "gan",
        "kind": "variant_of",
        "text": hop["text"],
        "direction": "forward",
    }


def test_paths_never_pass_through_the_guide_or_tours():
    graph = services.get_graph()
    for path in services.explained_paths("vae", "autoregressive", k=5):
        for hop in path[:-1]:
            assert graph.nodes[hop["to"]]["kind"] not in {"guide", "tour"}


def test_unconnected_nodes_have_no_paths_and_unknown_nodes_raise():
    tour = Node.objects.filter(kind="tour").values_list("slug", flat=True).first()
    assert services.explained_paths("vae", tour) == []
    assert services.explained_paths("vae", "vae") == []
    with pytest.raises(KeyError):
        services.explained_paths("vae", "no-such-node")


def test_facets_map_lens_tags_to_families():
    facets = services.facets()
    assert {"vae", "flow", "autoregressive"} <= set(facets["divergence"]["forward-kl"])
    assert "gan" not in facets["divergence"]["forward-kl"]
    assert "autoregressive" in facets["likelihood-access"]["exact-likelihood"]
    assert all(fams == sorted(fams) for tags in facets.values() for fams in tags.values())


def test_pipeline_layout_follows_the_flows_and_survives_cycles():
    positions = services.pipeline_layout(
        ["tokens", "ar", "next", "draft"],
        [("tokens", "ar"), ("ar", "next"), ("ar", "draft"), ("draft", "ar")],
    )
    assert positions["tokens"][0] < positions["ar"][0] < positions["next"][0]
    assert positions["next"][0] == positions["draft"][0] and positions["next"] != positions["draft"]
