"""/api/graph/: the whole map or a subgraph, as networkx node-link JSON."""

from __future__ import annotations

import networkx as nx
import pytest

from atlas.graph.models import Edge, Node
from tests.atlas.api.conftest import get_json


def test_the_whole_map_is_node_link_json_with_positions(api):
    body = get_json(api, "/api/graph/")
    assert body["directed"] is True and body["multigraph"] is True
    assert len(body["nodes"]) == Node.objects.count()
    assert len(body["links"]) == Edge.objects.count()
    assert all(isinstance(n["x"], float) and isinstance(n["y"], float) for n in body["nodes"])
    graph = nx.node_link_graph(body, edges="links")  # it reads back as a networkx graph
    assert graph.number_of_nodes() == Node.objects.count()


def test_a_subgraph_holds_the_nodes_within_depth(api):
    one = get_json(api, "/api/graph/?around=ddpm&depth=1")
    slugs = {n["id"] for n in one["nodes"]}
    neighbours = set(Edge.objects.filter(source__slug="ddpm").values_list("target__slug", flat=True)) | set(
        Edge.objects.filter(target__slug="ddpm").values_list("source__slug", flat=True)
    )
    assert slugs == neighbours | {"ddpm"}
    assert all(link["source"] in slugs and link["target"] in slugs for link in one["links"])
    two = get_json(api, "/api/graph/?around=ddpm&depth=2")
    assert slugs < {n["id"] for n in two["nodes"]}
    zero = get_json(api, "/api/graph/?around=ddpm&depth=0")
    assert [n["id"] for n in zero["nodes"]] == ["ddpm"]


def test_depth_defaults_to_two(api):
    assert get_json(api, "/api/graph/?around=ddpm") == get_json(api, "/api/graph/?around=ddpm&depth=2")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("around=ddpm&depth=abc", "depth"),
        ("around=ddpm&depth=99999999999999999999", "depth"),
        ("around=ddpm&depth=-1", "depth"),
        ("around=ddpm&depth=1.5", "depth"),
        ("around=ddpm&depth=NaN", "depth"),
        ("around=ddpm&depth=true", "depth"),
        ("depth=2", "depth"),
        ("around=no-such-node", "around"),
        ("around=Not%20a%20slug", "around"),
        ("around=ddpm&colour=red", "colour"),
    ],
)
def test_bad_parameters_are_400s_naming_them(api, query, field):
    body = get_json(api, f"/api/graph/?{query}", status=400)
    assert field in body


MAP_KEYS = {"facets", "lenses", "tours", "kinds", "edge_kinds"}


def test_the_map_extras_come_only_with_include_map(api):
    plain = get_json(api, "/api/graph/")
    assert not MAP_KEYS & set(plain)
    with_map = get_json(api, "/api/graph/?include=map")
    assert set(with_map) >= MAP_KEYS
    assert {key: with_map[key] for key in plain} == plain  # the same graph, plus the map's extras
    assert with_map["facets"]["divergence"]["forward-kl"]
    assert list(with_map["lenses"])[0] == "divergence"  # lenses by display order
    assert get_json(api, "/api/graph/?include=everything", status=400)["include"][-1] == "Valid values: map."
