"""The knowledge graph as networkx: building, layout, neighbourhoods, explained paths, facets.

This is the one module of the site that imports networkx. Everything is derived from the
Node / Edge / LensValue tables and cached in-process under `ContentVersion.current_hash()`, so it
is rebuilt after `manage.py content load` and never per request (each call costs one query for
the hash). The layout is also kept in Django's cache, so every process of a deployment draws the
same, stable map without recomputing it.

Layout: the lineage (solid `lineage` edges plus `variant_of`, parent → variant) is drawn as a
layered left-to-right family tree (longest-path layering, barycentre ordering); every other node
is placed by a force layout around it with the tree held fixed, pulled towards what it is
connected to and towards its families. Both steps are deterministic.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

import networkx as nx
from django.core.cache import cache

from atlas.graph.models import ContentVersion, Edge, LensValue, Node

Position = tuple[float, float]
logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 1600.0, 1000.0  # the layout's coordinate box, in SVG user units
LAYOUT_VERSION = "2"  # bump when the algorithm changes: it is part of the cache key
TREE_KINDS = frozenset({"lineage", "variant_of"})
# Cost of one hop in explained paths: typed relations first, loose ones only when needed.
HOP_COST = {"related": 4.0, "cites": 4.0, "recommends": 6.0}
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
    positions: dict[str, Position]
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
        "slug", "kind", "title", "summary", "families", "order", "aliases"
    )
    for slug, kind, title, summary, families, order, aliases in nodes:
        graph.add_node(
            slug,
            slug=slug,
            kind=kind,
            title=title,
            summary=summary,
            families=list(families),
            order=order,
            aliases=list(aliases),
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
    return _current().positions


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
    positions = layout()
    for node in data["nodes"]:
        x, y = positions.get(node["id"], (WIDTH / 2, HEIGHT / 2))
        node.update(x=x, y=y)
    data["nodes"].sort(key=lambda node: node["id"])
    data["links"].sort(key=lambda link: (link["source"], link["target"], link["kind"]))
    data["graph"] = {"width": WIDTH, "height": HEIGHT, "version": _current().version}
    return data


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


def _cached_layout(version: str, graph: nx.MultiDiGraph) -> dict[str, Position]:
    fingerprint = hashlib.sha256(
        repr((sorted(graph.nodes), sorted(graph.edges(keys=True)))).encode()
    ).hexdigest()[:16]
    key = f"graph-layout:{LAYOUT_VERSION}:{version}:{fingerprint}"
    try:
        stored = cache.get(key)
    except Exception:  # the shared cache is an optimisation: without it, compute here
        logger.warning("graph layout: cache unavailable, computing in-process", exc_info=True)
        stored = None
    if isinstance(stored, dict) and set(stored) == set(graph.nodes):
        return {slug: (float(x), float(y)) for slug, (x, y) in stored.items()}
    positions = compute_layout(graph)
    with contextlib.suppress(Exception):
        cache.set(key, positions, timeout=None)
    return positions


def compute_layout(graph: nx.MultiDiGraph) -> dict[str, Position]:
    """The map's positions, computed from scratch (callers use the cached `layout()`)."""
    if not graph:
        return {}
    tree = _lineage_tree(graph)
    fixed = _tree_positions(tree)
    positions = _place_rest(graph, fixed)
    return _fit(positions)


def _lineage_tree(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """Parent → child: solid lineage edges as written, variant_of edges reversed."""
    tree = nx.DiGraph()
    for a, b, data in graph.edges(data=True):
        if data["kind"] == "lineage" and data["style"] == "solid":
            tree.add_edge(a, b)
        elif data["kind"] == "variant_of":
            tree.add_edge(b, a)
    return _acyclic(tree, order=sorted(tree.nodes))


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


def _tree_positions(tree: nx.DiGraph) -> dict[str, Position]:
    """Columns by layer, rows ordered by a few barycentre sweeps, in unit coordinates."""
    layer = _layers(tree)
    columns: dict[int, list[str]] = defaultdict(list)
    for node in sorted(layer):
        columns[layer[node]].append(node)
    row = {node: float(i) for nodes in columns.values() for i, node in enumerate(nodes)}
    for sweep in range(6):
        neighbours = tree.predecessors if sweep % 2 == 0 else tree.successors
        for index in sorted(columns, reverse=sweep % 2 == 1):
            nodes = columns[index]
            key = {n: _mean([row[m] for m in neighbours(n)], row[n]) for n in nodes}
            nodes.sort(key=lambda n: (key[n], n))
            row.update({n: float(i) for i, n in enumerate(nodes)})
    return _blocks(columns)


def _blocks(columns: dict[int, list[str]], rows: int = 12) -> dict[str, Position]:
    """Unit positions for the layers: a tall layer is folded into side-by-side sub-columns of at
    most `rows` nodes (interleaved, so the barycentre order still reads top to bottom)."""
    folds = {index: max(1, math.ceil(len(nodes) / rows)) for index, nodes in columns.items()}
    starts, x = {}, 0.0
    for index in sorted(columns):
        starts[index] = x
        x += folds[index] + 1.0
    width = max(x - 2.0, 1.0)
    positions: dict[str, Position] = {}
    for index, nodes in columns.items():
        k = folds[index]
        height = math.ceil(len(nodes) / k)
        for i, node in enumerate(nodes):
            row = i // k + (rows - height) / 2
            positions[node] = ((starts[index] + i % k) / width, row / max(rows - 1, 1))
    return positions


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _place_rest(graph: nx.MultiDiGraph, fixed: dict[str, Position]) -> dict[str, Position]:
    """A force layout of everything, with the lineage tree (scaled to the middle band) held still."""
    anchor = {slug: (0.1 + 1.6 * x, 0.2 + 0.6 * y) for slug, (x, y) in fixed.items()}
    springs = nx.Graph()
    springs.add_nodes_from(sorted(graph.nodes))
    for a, b, data in graph.edges(data=True):
        weight = 0.3 if data["kind"] in HOP_COST else 1.0
        if a != b and (not springs.has_edge(a, b) or springs[a][b]["weight"] < weight):
            springs.add_edge(a, b, weight=weight)
    for slug, data in graph.nodes(data=True):
        for family in data["families"]:
            if family != slug and family in graph and not springs.has_edge(slug, family):
                springs.add_edge(slug, family, weight=0.5)
    loose = sorted(slug for slug in springs if not springs.degree(slug) and slug not in anchor)
    springs.remove_nodes_from(loose)
    start = {slug: anchor.get(slug) or _seed_position(slug, springs, anchor) for slug in springs}
    if len(anchor) < len(springs):
        start = nx.spring_layout(
            springs, k=0.045, pos=start, fixed=list(anchor) or None, iterations=200, weight="weight", seed=7
        )
    placed = {slug: _clamp(xy) for slug, xy in start.items()}
    # Nodes with no edge at all (e.g. tours) wait in a row beneath the map.
    placed.update({slug: (0.1 + 1.6 * (i + 0.5) / len(loose), 1.15) for i, slug in enumerate(loose)})
    return placed


def _clamp(xy: Any) -> Position:
    """Keep the force layout's stragglers within a margin around the tree's band."""
    return min(max(float(xy[0]), -0.15), 1.95), min(max(float(xy[1]), -0.1), 1.1)


def _seed_position(slug: str, springs: nx.Graph, anchor: dict[str, Position]) -> Position:
    """Near the anchored neighbours (else the middle), nudged by a hash of the slug."""
    digest = hashlib.sha256(slug.encode()).digest()
    jitter = (digest[0] / 255 - 0.5) * 0.3, (digest[1] / 255 - 0.5) * 0.3
    near = [anchor[n] for n in springs.neighbors(slug) if n in anchor]
    cx = _mean([p[0] for p in near], 0.9)
    cy = _mean([p[1] for p in near], 0.5)
    return cx + jitter[0], cy + jitter[1]


def _fit(positions: dict[str, Any]) -> dict[str, Position]:
    """Scale into the WIDTH × HEIGHT box (aspect kept, 40-unit margin), rounded to 0.1."""
    xs = [float(p[0]) for p in positions.values()]
    ys = [float(p[1]) for p in positions.values()]
    span = max(max(xs) - min(xs), 1e-9), max(max(ys) - min(ys), 1e-9)
    scale = min((WIDTH - 80) / span[0], (HEIGHT - 80) / span[1])
    ox = (WIDTH - scale * span[0]) / 2 - scale * min(xs)
    oy = (HEIGHT - scale * span[1]) / 2 - scale * min(ys)
    return {
        slug: (round(ox + scale * float(p[0]), 1), round(oy + scale * float(p[1]), 1))
        for slug, p in sorted(positions.items())
    }
