"""The knowledge graph as networkx: building, layout, neighbourhoods, explained paths, facets.

This module and its `layout` are the only ones of the site that import networkx. Everything
is derived from the Node / Edge / LensValue tables and cached in-process under
`ContentVersion.current_hash()`, so it is rebuilt after `manage.py content load` and never per
request (each call costs one query for the hash). The layout is also kept in the site's versioned
cache (atlas.core.cache), so every process of a deployment draws the same map without recomputing it.

Layout (`atlas.graph.layout`): one band per family, lineage left to right by year, unifications
as bridges between bands, a level of detail per node. Deterministic.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

import networkx as nx

from atlas.core import cache as site_cache
from atlas.graph import layout as map_layout
from atlas.graph.layout import HEIGHT, WIDTH, MapLayout
from atlas.graph.models import ContentVersion, Edge, LensValue, Node

Position = tuple[float, float]

LAYOUT_VERSION = "8"  # bump when the algorithm changes: it is part of the cache key
# Cost of one hop in explained paths: substantive relations (lineage, unification, variant, fix)
# first, a shared failure mode only before loose links, which come last.
HOP_COST = {"suffers_from": 2.5, "component_of": 1.5, "related": 4.0, "cites": 4.0, "recommends": 6.0}
NO_THROUGH_KINDS = frozenset({"guide", "tour"})  # hubs that explain nothing as intermediate hops
PHRASES = {
    "lineage": "leads to",
    "unifies": "unifies",
    "variant_of": "is a variant of",
    "component_of": "is a component of",
    "fixes": "fixes",
    "suffers_from": "suffers from",
    "cites": "cites",
    "recommends": "recommends",
    "related": "is related to",
}


@dataclass(frozen=True)
class _Built:
    version: str
    graph: nx.MultiDiGraph
    layout: MapLayout
    facets: dict[str, dict[str, list[str]]]


_lock = threading.Lock()
_built: _Built | None = None


def _current() -> _Built:
    """The graph, layout and facets of the loaded content, built once per content hash."""
    global _built
    version = ContentVersion.current_hash()
    with _lock:
        if _built is None or _built.version != version:
            graph = _build_graph()
            _built = _Built(version, graph, _cached_layout(version, graph), _build_facets())
        return _built


def clear_cache() -> None:
    """Forget the in-process graph (tests; the hash check makes this unnecessary otherwise)."""
    global _built
    with _lock:
        _built = None


# --- Building --------------------------------------------------------------------------------


def _build_graph() -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    nodes = Node.objects.order_by("slug").values_list(
        "slug", "kind", "title", "summary", "families", "order", "aliases", "data__year"
    )
    for slug, kind, title, summary, families, order, aliases, year in nodes:
        graph.add_node(
            slug,
            slug=slug,
            kind=kind,
            title=title,
            summary=summary,
            families=list(families),
            order=order,
            aliases=list(aliases),
            year=year if isinstance(year, int) else None,
        )
    edges = Edge.objects.order_by("source__slug", "target__slug", "kind").values_list(
        "source__slug", "target__slug", "kind", "text", "style"
    )
    for source, target, kind, text, style in edges:
        graph.add_edge(source, target, key=kind, kind=kind, text=text, style=style)
    return graph


def _build_facets() -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    rows = LensValue.objects.order_by("lens__order", "lens__slug").values_list(
        "lens__slug", "family__slug", "facets"
    )
    for lens, family, tags in rows:
        for tag in tags:
            found[lens][tag].add(family)
    return {lens: {tag: sorted(fams) for tag, fams in sorted(tags.items())} for lens, tags in found.items()}


# --- Public API ------------------------------------------------------------------------------


def get_graph() -> nx.MultiDiGraph:
    """The whole knowledge graph (shared and cached: copy it before changing it)."""
    return _current().graph


def layout() -> dict[str, Position]:
    """Node slug → (x, y) in a WIDTH × HEIGHT box; deterministic, cached with the graph."""
    return _current().layout.positions


def map_meta() -> MapLayout:
    """The whole map layout: positions, levels of detail (`tiers`), family regions, year axis."""
    return _current().layout


def facets() -> dict[str, dict[str, list[str]]]:
    """Lens (or axis) slug → facet tag → the family slugs whose value carries the tag."""
    return _current().facets


def subgraph(around: str, depth: int) -> nx.MultiDiGraph:
    """The nodes within `depth` hops of `around` (either direction) with the edges among them."""
    graph = get_graph()
    if around not in graph:
        raise KeyError(around)
    near = nx.single_source_shortest_path_length(graph.to_undirected(as_view=True), around, cutoff=depth)
    return graph.subgraph(near).copy()


def node_link(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """networkx node-link data with positions, nodes sorted by slug and links by (source, target, kind)."""
    data = nx.node_link_data(graph, edges="links")
    meta = map_meta()
    for node in data["nodes"]:
        x, y = meta.positions.get(node["id"], (WIDTH / 2, HEIGHT / 2))
        band = meta.bands.get(node["id"])
        node.update(x=x, y=y, tier=meta.tiers.get(node["id"], 2), band=band)
    data["nodes"].sort(key=lambda node: node["id"])
    data["links"].sort(key=lambda link: (link["source"], link["target"], link["kind"]))
    data["graph"] = {
        "width": WIDTH,
        "height": HEIGHT,
        "version": _current().version,
        "regions": meta.regions,
        "axis": meta.axis,
    }
    return data


# Relations by how much they say about a node, for its small neighbourhood map.
NEIGHBOUR_RANK = {
    "lineage": 0,
    "unifies": 1,
    "variant_of": 2,
    "fixes": 3,
    "suffers_from": 4,
    "component_of": 5,
    "related": 6,
    "recommends": 7,
    "cites": 8,
}


def neighbours(slug: str) -> list[dict[str, Any]]:
    """The node's direct relations, most specific first: `{slug, title, kind, style, family,
    relation}` once per neighbour (its most specific edge), guide and tour hubs left out."""
    built = _current()  # one look at the content hash for the graph and the layout together
    graph, bands = built.graph, built.layout.bands
    if slug not in graph:
        raise KeyError(slug)
    best: dict[str, dict[str, Any]] = {}
    edges = [(b, d, "out") for _, b, d in graph.out_edges(slug, data=True)]
    edges += [(a, d, "in") for a, _, d in graph.in_edges(slug, data=True)]
    for other, data, direction in edges:
        node = graph.nodes[other]
        if other == slug or node["kind"] in NO_THROUGH_KINDS:
            continue
        rank = NEIGHBOUR_RANK.get(data["kind"], 9)
        if other in best and best[other]["rank"] <= rank:
            continue
        phrase = PHRASES.get(data["kind"], data["kind"])
        best[other] = {
            "slug": other,
            "title": node["title"],
            "kind": data["kind"],
            "style": data["style"],
            "family": bands.get(other) or (node["families"] or ["none"])[0],
            "label": short_label(node["title"], node["aliases"]),
            "relation": phrase if direction == "out" else f"{phrase} (from)",
            "rank": rank,
        }
    return sorted(best.values(), key=lambda n: (n["rank"], n["title"].lower()))


def short_label(title: str, aliases: list[str], limit: int = 22) -> str:
    """A short name for crowded places: the title if short, else its abbreviation in brackets, its
    shortest alias, or the part before a dash; cut with an ellipsis as the last resort."""
    if len(title) <= limit:
        return title
    if title.endswith(")") and "(" in title and len(inner := title[title.rindex("(") + 1 : -1]) <= 14:
        return inner
    fitting = sorted((a for a in aliases if len(a) <= 16), key=len)
    if fitting:
        return fitting[0]
    head = title.split(" — ")[0].split(": ")[0]
    return head if len(head) <= limit + 2 else head[: limit - 2].rstrip() + "…"


def explained_paths(source: str, target: str, k: int = 3) -> list[list[dict[str, str]]]:
    """Up to `k` shortest meaningful paths from `source` to `target`, each a list of hops
    `{from, to, kind, text, direction}` (direction: `forward` when the edge points along the
    path). Typed relations are preferred over `related` / `cites`; guide and tour nodes are
    never passed through. KeyError for an unknown slug; [] when the two are not connected."""
    graph = get_graph()
    for slug in (source, target):
        if slug not in graph:
            raise KeyError(slug)
    if source == target:
        return []
    best = _best_edges(graph, keep={source, target})
    try:
        routes = list(islice(nx.shortest_simple_paths(best, source, target, weight="cost"), k))
    except nx.NetworkXNoPath:
        return []
    return [[_hop(graph, best, a, b) for a, b in zip(route, route[1:], strict=False)] for route in routes]


def pipeline_layout(components: list[str], flows: Iterable[tuple[str, str]]) -> dict[str, Position]:
    """Positions (column, row) for a pipeline's small diagram: layers left to right along the
    flows (back edges of cycles ignored), components in their written order within a layer."""
    graph = nx.DiGraph()
    graph.add_nodes_from(components)
    graph.add_edges_from((a, b) for a, b in flows if a in graph and b in graph)
    layers = _layers(_acyclic(graph, order=components))
    rows: dict[int, int] = defaultdict(int)
    positions: dict[str, Position] = {}
    for component in components:
        column = layers[component]
        positions[component] = (float(column), float(rows[column]))
        rows[column] += 1
    return positions


# --- Paths -----------------------------------------------------------------------------------


def _best_edges(graph: nx.MultiDiGraph, keep: set[str]) -> nx.Graph:
    """An undirected simple graph holding, for each pair, the cheapest edge between them. Hubs
    cost more to pass through (log of their degree), so that "both suffer from bias" loses to a
    specific relation."""
    best = nx.Graph()
    best.add_nodes_from(keep)
    penalty = {n: 0.0 if n in keep else math.log2(1 + graph.degree(n)) / 5 for n in graph}
    for a, b, data in graph.edges(data=True):
        if (graph.nodes[a]["kind"] in NO_THROUGH_KINDS and a not in keep) or (
            graph.nodes[b]["kind"] in NO_THROUGH_KINDS and b not in keep
        ):
            continue
        cost = HOP_COST.get(data["kind"], 1.0) + penalty[a] + penalty[b]
        if not best.has_edge(a, b) or cost < best[a][b]["cost"]:
            best.add_edge(a, b, cost=cost, source=a, kind=data["kind"], text=data["text"])
    return best


def _hop(graph: nx.MultiDiGraph, best: nx.Graph, a: str, b: str) -> dict[str, str]:
    edge = best[a][b]
    forward = edge["source"] == a
    subject, obj = (graph.nodes[n]["title"] for n in ((a, b) if forward else (b, a)))
    text = edge["text"] or f"{subject} {PHRASES.get(edge['kind'], edge['kind'])} {obj}"
    return {
        "from": a,
        "to": b,
        "kind": edge["kind"],
        "text": text,
        "direction": "forward" if forward else "backward",
    }


# --- Layout ----------------------------------------------------------------------------------


def _cached_layout(version: str, graph: nx.MultiDiGraph) -> MapLayout:
    """The layout, through the site's one versioned cache (atlas.core.cache): computed once per
    content version and shared by every process of a deployment."""
    fingerprint = hashlib.sha256(
        repr((sorted(graph.nodes), sorted(graph.edges(keys=True)))).encode()
    ).hexdigest()[:16]
    stored = site_cache.get_or_build(
        "graph-layout", f"{LAYOUT_VERSION}:{version}", (fingerprint,), lambda: compute_map(graph).as_dict()
    )
    return MapLayout.from_dict(stored)


def compute_map(graph: nx.MultiDiGraph) -> MapLayout:
    """The map's layout (positions, levels of detail, family regions, year axis), from scratch."""
    return map_layout.compute(graph)


def compute_layout(graph: nx.MultiDiGraph) -> dict[str, Position]:
    """The map's positions, computed from scratch (callers use the cached `layout()`)."""
    return compute_map(graph).positions


def _acyclic(graph: nx.DiGraph, order: list[str]) -> nx.DiGraph:
    """A copy without the back edges of a depth-first search taken in `order`."""
    result = graph.copy()
    rank = {node: i for i, node in enumerate(order)}
    state: dict[str, int] = {}
    for root in order:
        if root in state:
            continue
        stack = [(root, iter(sorted(graph.successors(root), key=rank.get)))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                result.remove_edge(node, child)
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(graph.successors(child), key=rank.get))))
    return result


def _layers(dag: nx.DiGraph) -> dict[str, int]:
    """Longest-path layering: every node one layer right of its deepest parent."""
    layer: dict[str, int] = {}
    for node in nx.lexicographical_topological_sort(dag):
        layer[node] = max((layer[p] + 1 for p in dag.predecessors(node)), default=0)
    return layer
