"""networkx services: the graph from the tables, cached layout, neighbourhoods, explained paths, facets."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from atlas.graph import families, layout, services
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
    compute = services.compute_map
    monkeypatch.setattr(services, "compute_map", lambda graph: calls.append(1) or compute(graph))
    cache.clear()
    services.clear_cache()
    first = services.layout()
    assert services.layout() is first and len(calls) == 1
    services.clear_cache()  # a fresh process: the shared cache answers
    assert services.layout() == first and len(calls) == 1
    assert services.map_meta().tiers and services.map_meta().regions  # the whole layout, not only xy


def test_the_lineage_runs_left_to_right_between_methods():
    graph = services.get_graph()
    positions = services.layout()
    tree = layout.lineage_tree(graph)
    assert tree.number_of_edges() > 60
    assert all(positions[parent][0] < positions[child][0] for parent, child in tree.edges)
    assert positions["score-matching"][0] < positions["ncsn"][0] < positions["score-sde"][0]


def test_methods_of_a_later_year_sit_further_right_within_a_band():
    graph = services.get_graph()
    meta = services.map_meta()
    by_band: dict[str, list[tuple[int, float]]] = {}
    for slug, data in graph.nodes(data=True):
        if data["kind"] == "method" and data["year"] and slug in meta.bands:
            by_band.setdefault(meta.bands[slug], []).append((data["year"], meta.positions[slug][0]))
    for family, items in by_band.items():
        earliest_x = {year: min(x for y, x in items if y == year) for year, _ in items}
        years = sorted(earliest_x)
        ordered = sum(earliest_x[a] < earliest_x[b] for a, b in zip(years, years[1:], strict=False))
        assert ordered >= 0.8 * (len(years) - 1), family  # lineage pushes may reorder a few


def test_each_family_has_its_own_band_holding_its_methods():
    meta = services.map_meta()
    assert [r["family"] for r in meta.regions] == list(families.ORDER)
    tops = [r["y"] for r in meta.regions]
    assert tops == sorted(tops)
    assert all(a["y"] + a["h"] < b["y"] for a, b in zip(meta.regions, meta.regions[1:], strict=False))
    assert meta.bands["ddpm"] == "diffusion" and meta.bands["wgan"] == "gan"
    assert meta.bands["latent-diffusion"] == "diffusion"  # listed under vae and diffusion


def test_unifications_sit_between_the_bands_they_join():
    graph = services.get_graph()
    meta = services.map_meta()
    tops = {r["family"]: (r["y"], r["y"] + r["h"]) for r in meta.regions}
    for slug, data in graph.nodes(data=True):
        if data["kind"] != "unification":
            continue
        y = meta.positions[slug][1]
        assert not any(top <= y <= bottom for top, bottom in tops.values()), slug  # in a gap
        joined = [tops[f] for f in data["families"] if f in tops]
        assert min(t for t, _ in joined) < y < max(b for _, b in joined), slug
    xs = [meta.positions[s][0] for s, d in graph.nodes(data=True) if d["kind"] == "unification"]
    assert len(set(xs)) == len(xs)  # no two bridges on one vertical line


def test_zoomed_out_the_map_shows_families_unifications_and_about_thirty_landmarks():
    graph = services.get_graph()
    meta = services.map_meta()
    first = [slug for slug, tier in meta.tiers.items() if tier == 0]
    kinds = {graph.nodes[s]["kind"] for s in first}
    assert kinds == {"family", "unification", "method"}
    assert 24 <= sum(graph.nodes[s]["kind"] == "method" for s in first) <= 36
    assert {"ddpm", "flow-matching", "wgan-gp"} <= set(first)
    assert meta.tiers["mode-collapse"] == 1
    glossary = [slug for slug, data in graph.nodes(data=True) if data["kind"] == "glossary"]
    assert glossary and all(meta.tiers[slug] == 2 for slug in glossary)


def test_failure_modes_sit_in_the_band_of_a_family_they_concern():
    graph = services.get_graph()
    meta = services.map_meta()
    for slug, data in graph.nodes(data=True):
        if data["kind"] in ("failure-mode", "open-problem") and data["families"]:
            assert meta.bands.get(slug) in data["families"], slug


def test_a_node_s_neighbours_come_most_specific_first_once_each():
    found = services.neighbours("ddim")
    slugs = [n["slug"] for n in found]
    assert len(slugs) == len(set(slugs)) and "ddpm" in slugs
    ranks = [services.NEIGHBOUR_RANK.get(n["kind"], 9) for n in found]
    assert ranks == sorted(ranks)
    assert all(n["label"] and len(n["label"]) <= 24 for n in found)


def test_short_labels_prefer_the_abbreviation_then_an_alias():
    assert services.short_label("Generative Adversarial Networks (GAN)", []) == "GAN"
    assert services.short_label("DDIM — Denoising Diffusion Implicit Models", ["DDIM"]) == "DDIM"
    assert services.short_label("Flow Matching", []) == "Flow Matching"


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
