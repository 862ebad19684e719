"""Pages of the map: parse the request, ask the ORM or `services` (networkx), render.

Every page costs a bounded number of queries whatever the size of the content: lists come from
one query each (with select_related / prefetch_related), and anything graph-shaped comes from
the cached graph in `services` (one query for the content hash).
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_safe

from atlas.core.cache import get_or_build
from atlas.graph import families, services
from atlas.graph.models import ContentVersion, Edge, LensValue, Node, NodeKind, NodePaper
from atlas.papers.models import Paper
from atlas.runs.recipes import for_node

FAMILY_ORDER = list(families.ORDER)
KIND_LABELS = {
    "family": "Families",
    "method": "Methods and models",
    "lens": "Lenses",
    "axis": "Comparison axes",
    "unification": "Unifications",
    "failure-mode": "Failure modes",
    "open-problem": "Open problems",
    "research-direction": "Research directions",
    "confusion": "Confusions",
    "trend": "Trends",
    "pipeline": "Pipelines",
    "glossary": "Glossary",
    "essay": "Essays",
    "tour": "Tours",
    "guide": "Decision guide",
}
EDGE_LABELS = {
    "lineage": "Lineage",
    "unifies": "Unifications",
    "variant_of": "Variants",
    "component_of": "Pipeline components",
    "fixes": "Fixes",
    "suffers_from": "Failure modes",
    "cites": "Citations",
    "recommends": "Recommendations",
    "related": "Related",
}
# (edge kind, direction) → the heading of that group of relations on a node's page.
RELATION_GROUPS = {
    ("lineage", "in"): "Descends from",
    ("lineage", "out"): "Leads to",
    ("variant_of", "out"): "Variant of",
    ("variant_of", "in"): "Variants",
    ("unifies", "in"): "Unified with others by",
    ("unifies", "out"): "Unifies",
    ("suffers_from", "out"): "Suffers from",
    ("suffers_from", "in"): "Affects",
    ("fixes", "in"): "Fixed by",
    ("fixes", "out"): "Fixes",
    ("component_of", "out"): "Component of",
    ("component_of", "in"): "Components",
    ("recommends", "in"): "Recommended by",
    ("recommends", "out"): "Recommends",
    ("cites", "out"): "Cites",
    ("cites", "in"): "Cited by",
    ("related", "out"): "Related",
    ("related", "in"): "Referenced by",
}
GROUP_ORDER = list(RELATION_GROUPS.values())


@dataclass(frozen=True)
class IndexPage:
    kind: str
    title: str
    intro: str
    refs: str = ""  # the data key listing the slugs each record points at


INDEX_PAGES = {
    "unifications": IndexPage(
        "unification", "Unifications", "Precise claims that two families are one.", "connects"
    ),
    "failure-modes": IndexPage(
        "failure-mode", "Failure modes", "How each family fails, and the fixes.", "affects"
    ),
    "open-problems": IndexPage("open-problem", "Open problems", "What nobody can explain yet.", "related"),
    "research-directions": IndexPage(
        "research-direction", "Research directions", "Seeds for new work, by theme.", "related"
    ),
    "confusions": IndexPage("confusion", "Confusions", "Common misconceptions, and what is true.", "related"),
    "trends": IndexPage("trend", "Trends", "Where the field is moving.", "related"),
    "pipelines": IndexPage("pipeline", "Pipelines", "How the families combine in production systems."),
    "glossary": IndexPage("glossary", "Glossary", "Symbols and terms shared across families.", "families"),
}


# --- HTML that depends only on the loaded content ----------------------------------------------


def rendered(key: tuple[str, ...], build: Callable[[], Any]) -> Any:
    """A fragment (map body, node page, card) rendered once per content version: kept in the site's
    one cache (`atlas.core.cache`) under the content hash, so a content load renders anew."""
    return get_or_build("page-fragment", ContentVersion.current_hash(), key, build)


# --- The map ---------------------------------------------------------------------------------


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    context = {
        "body": rendered(("map",), _map_body),
        "query": query,
        "matches": _search(query) if query else [],
    }
    return render(request, "graph/map.html", context)


def _map_body() -> str:
    graph = services.get_graph()
    nodes = [data for _, data in graph.nodes(data=True)]
    context = {
        "groups": _grouped_by_kind(nodes),
        "node_count": len(nodes),
        "kinds": _present(KIND_LABELS, {data["kind"] for data in nodes}),
        "edge_kinds": _present(EDGE_LABELS, {data["kind"] for _, _, data in graph.edges(data=True)}),
        "facet_groups": _facet_groups(graph),
    }
    return render_to_string("graph/_map_body.html", context)


@require_safe
def graph_json(request: HttpRequest) -> HttpResponse:
    """The map's data is the graph API's document with `include=map`: one implementation."""
    return HttpResponseRedirect(reverse("graph-list") + "?include=map")


def _search(query: str) -> list[Node]:
    return list(Node.objects.filter(search_text__contains=query.lower()).only("slug", "title", "kind")[:50])


def _present(labels: dict[str, str], present: set[str]) -> list[tuple[str, str]]:
    return [(key, label) for key, label in labels.items() if key in present]


def _grouped_by_kind(nodes: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for data in nodes:
        by_kind[data["kind"]].append(data)
    return [
        (kind, label, sorted(by_kind[kind], key=lambda d: (d["order"], d["title"].lower())))
        for kind, label in KIND_LABELS.items()
        if by_kind.get(kind)
    ]


def _facet_groups(graph: Any) -> list[tuple[str, str, list[tuple[str, list[str]]]]]:
    facets = services.facets()
    ordered = sorted(facets, key=lambda slug: (graph.nodes[slug]["order"], slug))
    return [(slug, graph.nodes[slug]["title"], list(facets[slug].items())) for slug in ordered]


# --- Nodes -----------------------------------------------------------------------------------


@require_safe
def node_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The node's content (rendered once per content version) beside its live panel and its
    neighbourhood map."""
    node, body, hood = rendered(("node", slug), lambda: _node_body(slug))
    context = {
        "node": node,
        "body": body,
        "hood": hood,
        # A failure mode's or unification's presets run inside its experiment panel instead.
        "recipes": for_node(node.slug),
    }
    return render(request, "graph/node.html", context)


HOOD_W, HOOD_H, HOOD_RX, HOOD_RY, HOOD_MAX = 420, 300, 80, 118, 10


def _neighbourhood(slug: str) -> dict[str, Any]:
    """A small radial map of the node's most specific relations (Connected Papers style): the node
    in the middle, up to HOOD_MAX neighbours on an ellipse, labels outward so they never cross."""
    found = services.neighbours(slug)
    shown = found[:HOOD_MAX]
    cx, cy = HOOD_W / 2, HOOD_H / 2
    nodes = []
    for i, item in enumerate(shown):
        angle = -math.pi / 2 + 2 * math.pi * (i + 0.5) / max(len(shown), 1)
        x, y = cx + HOOD_RX * math.cos(angle), cy + HOOD_RY * math.sin(angle)
        right = math.cos(angle) >= 0
        nodes.append(
            {
                **item,
                "x": round(x, 1),
                "y": round(y, 1),
                "lx": round(x + (9 if right else -9), 1),
                "ly": round(y + 4, 1),
                "anchor": "start" if right else "end",
            }
        )
    return {"nodes": nodes, "total": len(found), "width": HOOD_W, "height": HOOD_H, "cx": cx, "cy": cy}


def _node_body(slug: str) -> tuple[Node, str, str]:
    node = get_object_or_404(Node, slug=slug)
    context = _node_context(node)
    context["papers"] = _papers(node)
    context["steps"] = _steps(node) if node.kind == NodeKind.TOUR else []
    context["diagram"] = _diagram(node) if node.kind == NodeKind.PIPELINE else None
    hood = render_to_string(
        "graph/_neighbourhood.html", {"node": node, "neighbourhood": _neighbourhood(slug)}
    )
    return node, render_to_string("graph/_node_body.html", context), hood


@require_safe
def node_card(request: HttpRequest, slug: str) -> HttpResponse:
    """The map's side card: an HTML fragment (summary, equation, lens values, relations)."""
    return HttpResponse(rendered(("card", slug), lambda: _card(slug)))


def _card(slug: str) -> str:
    node = get_object_or_404(Node, slug=slug)
    return render_to_string("graph/card.html", _node_context(node))


def _node_context(node: Node) -> dict[str, Any]:
    return {
        "node": node,
        "kind_label": KIND_LABELS.get(node.kind, node.kind),
        "relations": _relations(node),
        "lens_values": _lens_values_of(node) if node.kind == NodeKind.FAMILY else [],
        "lens_rows": _lens_rows(node) if node.kind in (NodeKind.LENS, NodeKind.AXIS) else [],
    }


def _relations(node: Node) -> list[tuple[str, list[dict[str, Any]]]]:
    """The node's edges in both directions, grouped under headings such as "Variants"."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    outgoing = (
        Edge.objects.filter(source=node)
        .select_related("target")
        .only("kind", "text", "style", "target__slug", "target__title", "target__kind")
    )
    incoming = (
        Edge.objects.filter(target=node)
        .select_related("source")
        .only("kind", "text", "style", "source__slug", "source__title", "source__kind")
    )
    for edge in outgoing:
        groups[RELATION_GROUPS[(edge.kind, "out")]].append(_relation(edge, edge.target, "out"))
    for edge in incoming:
        groups[RELATION_GROUPS[(edge.kind, "in")]].append(_relation(edge, edge.source, "in"))
    return [(name, groups[name]) for name in GROUP_ORDER if name in groups]


def _relation(edge: Edge, other: Node, direction: str) -> dict[str, Any]:
    return {"node": other, "kind": edge.kind, "text": edge.text, "style": edge.style, "direction": direction}


def _lens_values_of(family: Node) -> list[LensValue]:
    values = LensValue.objects.filter(family=family, variant__isnull=True).select_related("lens")
    return sorted(values, key=lambda v: (v.lens.kind != NodeKind.LENS, v.lens.order, v.lens.slug))


def _lens_rows(lens: Node) -> list[dict[str, Any]]:
    """One row per family: its main value, then its variants, each with papers."""
    values = (
        LensValue.objects.filter(lens=lens)
        .select_related("family")
        .prefetch_related(Prefetch("papers", queryset=Paper.objects.only("key", "title", "year")))
    )
    rows: dict[str, dict[str, Any]] = {}
    for value in values:
        row = rows.setdefault(value.family.slug, {"family": value.family, "main": None, "variants": []})
        if value.variant is None:
            row["main"] = value
        else:
            row["variants"].append(value)
    return [rows[slug] for slug in _family_sorted(rows)]


def _family_sorted(slugs: Any) -> list[str]:
    return sorted(slugs, key=lambda s: (FAMILY_ORDER.index(s) if s in FAMILY_ORDER else 99, s))


def _papers(node: Node) -> list[Paper]:
    citations = NodePaper.objects.filter(node=node).select_related("paper").order_by("position")
    return [citation.paper for citation in citations]


def _steps(tour: Node) -> list[dict[str, Any]]:
    steps = tour.data.get("steps", [])
    nodes = Node.objects.in_bulk([step["node"] for step in steps], field_name="slug")
    return [{"node": nodes.get(step["node"]), "note_html": step.get("note_html", "")} for step in steps]


# --- Pipelines as small graphs ---------------------------------------------------------------

BOX_W, BOX_H, LINE_H, COL_GAP, ROW_GAP = 190, 22, 15, 70, 36


def _diagram(node: Node) -> dict[str, Any]:
    """Boxes and arrows of a pipeline, laid out by `services.pipeline_layout` (layers of flows)."""
    components = node.data.get("components", [])
    flows = node.data.get("flows", [])
    grid = services.pipeline_layout([c["id"] for c in components], [(f["from"], f["to"]) for f in flows])
    lines = {c["id"]: textwrap.wrap(c["label"], 26) or [c["id"]] for c in components}
    row_h = max((len(v) for v in lines.values()), default=1) * LINE_H + BOX_H
    boxes = {}
    for component in components:
        column, row = grid[component["id"]]
        boxes[component["id"]] = {
            "x": 10 + int(column) * (BOX_W + COL_GAP),
            "y": 10 + int(row) * (row_h + ROW_GAP),
            "w": BOX_W,
            "h": row_h,
            "lines": lines[component["id"]],
            "node": component.get("node", ""),
        }
    arrows = [_arrow(boxes[f["from"]], boxes[f["to"]], f.get("label", "")) for f in flows]
    width = max((b["x"] + b["w"] for b in boxes.values()), default=0) + 10
    bottoms = [b["y"] + b["h"] for b in boxes.values()] + [a["ly"] + 4 for a in arrows]
    height = max(bottoms, default=0) + 10
    return {"boxes": list(boxes.values()), "arrows": arrows, "width": width, "height": height}


def _arrow(a: dict[str, Any], b: dict[str, Any], label: str) -> dict[str, Any]:
    """A straight arrow to a later column; a curve beneath the boxes for any other flow."""
    if b["x"] > a["x"]:
        x1, y1 = a["x"] + a["w"], a["y"] + a["h"] / 2
        x2, y2 = b["x"], b["y"] + b["h"] / 2
        return {
            "d": f"M{x1},{y1} L{x2},{y2}",
            "label": label,
            "lx": x1 + (x2 - x1) * 0.45,
            "ly": y1 + (y2 - y1) * 0.45 - 5,
        }
    x1, y1 = a["x"] + a["w"] * 0.3, a["y"] + a["h"]
    x2, y2 = b["x"] + b["w"] * 0.7, b["y"] + b["h"]
    low = max(y1, y2) + ROW_GAP * 0.8
    return {
        "d": f"M{x1},{y1} C{x1},{low} {x2},{low} {x2},{y2}",
        "label": label,
        "lx": (x1 + x2) / 2,
        "ly": low - 2,
    }


# --- Lenses ----------------------------------------------------------------------------------


@require_safe
def lens_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lens = get_object_or_404(Node, slug=slug, kind__in=[NodeKind.LENS, NodeKind.AXIS])
    context = {"node": lens, "rows": _lens_rows(lens), "papers": _papers(lens)}
    return render(request, "graph/lens.html", context)


@require_safe
def lens_index(request: HttpRequest) -> HttpResponse:
    """Every lens and axis, and one table: families as rows, a column per lens with its facets."""
    lenses = list(
        Node.objects.filter(kind__in=[NodeKind.LENS, NodeKind.AXIS]).order_by("-kind", "order", "slug")
    )
    cells: dict[tuple[int, int], LensValue] = {}
    families: dict[int, Node] = {}
    for value in LensValue.objects.filter(variant__isnull=True).select_related("family"):
        cells[(value.family_id, value.lens_id)] = value
        families[value.family_id] = value.family
    by_slug = {family.slug: family for family in families.values()}
    ordered = [by_slug[slug] for slug in _family_sorted(by_slug)]
    rows = [{"family": f, "cells": [cells.get((f.id, lens.id)) for lens in lenses]} for f in ordered]
    return render(request, "graph/lenses.html", {"lenses": lenses, "rows": rows})


# --- Index pages -----------------------------------------------------------------------------


@require_safe
def kind_index(request: HttpRequest, page: str) -> HttpResponse:
    spec = INDEX_PAGES[page]
    nodes = list(_index_nodes(spec.kind))
    titles = {slug: data["title"] for slug, data in services.get_graph().nodes(data=True)}
    items = [{"node": n, "refs": _refs(n, spec.refs, titles), "diagram": _pipeline(n)} for n in nodes]
    sections = _sections(items) if spec.kind == NodeKind.RESEARCH_DIRECTION else [("", items)]
    context = {"page": page, "spec": spec, "sections": sections, "count": len(items)}
    return render(request, "graph/index.html", context)


def _index_nodes(kind: str) -> QuerySet[Node]:
    nodes = Node.objects.filter(kind=kind).defer("body_md", "body_html", "search_text")
    if kind == NodeKind.GLOSSARY:
        return nodes.order_by("title")
    if kind == NodeKind.RESEARCH_DIRECTION:
        return nodes.order_by("data__section", "title")
    return nodes.order_by("order", "title")


def _refs(node: Node, key: str, titles: dict[str, str]) -> list[dict[str, str]]:
    slugs = (node.families if key == "families" else node.data.get(key, [])) if key else []
    return [{"slug": slug, "title": titles.get(slug, slug)} for slug in slugs]


def _pipeline(node: Node) -> dict[str, Any] | None:
    return _diagram(node) if node.kind == NodeKind.PIPELINE else None


def _sections(items: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    sections: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        data = item["node"].data
        sections.setdefault(f"{data.get('section', '')}. {data.get('section_title', '')}", []).append(item)
    return list(sections.items())


@require_safe
def reading(request: HttpRequest) -> HttpResponse:
    """The reading circles (tours) and every paper of the atlas, newest first."""
    tours = list(Node.objects.filter(kind=NodeKind.TOUR).order_by("data__circle", "slug"))
    essays = list(
        Node.objects.filter(kind=NodeKind.ESSAY).order_by("order", "title").only("slug", "title", "summary")
    )
    papers = Paper.objects.order_by("-year", "key").only(
        "key", "title", "authors", "year", "venue", "url", "doi", "arxiv"
    )
    context = {"tours": tours, "essays": essays, "papers": list(papers)}
    return render(request, "graph/reading.html", context)


@require_safe
def tour_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tour = get_object_or_404(Node, slug=slug, kind=NodeKind.TOUR)
    return render(request, "graph/tour.html", {"node": tour, "steps": _steps(tour)})


# --- Paths and papers ------------------------------------------------------------------------


@require_safe
def related(request: HttpRequest) -> HttpResponse:
    """How is X related to Y? Up to three explained paths between two nodes (?from=&to=, each a
    slug or a node's title as the searchable inputs send it)."""
    graph = services.get_graph()
    by_title = {data["title"].lower(): slug for slug, data in graph.nodes(data=True)}
    asked_for = [request.GET.get(name, "").strip() for name in ("from", "to")]
    source, target = (_resolve(text, graph, by_title) for text in asked_for)
    unknown = [text for text, slug in zip(asked_for, (source, target), strict=True) if text and not slug]
    paths: list[list[dict[str, Any]]] = []
    if source and target:
        statements = _statements()
        paths = [
            [_titled_hop(graph, hop, statements) for hop in path]
            for path in services.explained_paths(source, target)
        ]
    titles = {slug: graph.nodes[slug]["title"] for slug in (source, target) if slug}
    context = {
        "groups": _grouped_by_kind([data for _, data in graph.nodes(data=True)]),
        "pickers": [
            ("from", "From", source, titles.get(source, asked_for[0])),
            ("to", "To", target, titles.get(target, asked_for[1])),
        ],
        "source": source,
        "target": target,
        "source_title": titles.get(source, source),
        "target_title": titles.get(target, target),
        "unknown": unknown,
        "asked": bool(source and target),
        "paths": paths,
    }
    return render(request, "graph/related.html", context, status=400 if unknown else 200)


def _resolve(text: str, graph: Any, by_title: dict[str, str]) -> str:
    """A slug, or the slug of the node with that title (any case); "" when neither."""
    if text in graph:
        return text
    return by_title.get(text.lower(), "")


def _statements() -> dict[str, str]:
    """Each unification's precise claim (sanitized HTML with MathML, rendered at load time): the
    sentence a unification hop is explained by."""
    rows = Node.objects.filter(kind=NodeKind.UNIFICATION).values_list("slug", "data__statement_html")
    return {slug: statement for slug, statement in rows if statement}


def _titled_hop(graph: Any, hop: dict[str, str], statements: dict[str, str]) -> dict[str, Any]:
    """The hop with titles; a unification hop quotes the unification's claim."""
    source = hop["from"] if hop["direction"] == "forward" else hop["to"]
    claim = statements.get(source, "") if hop["kind"] == "unifies" else ""  # its edges repeat its title
    return {
        **hop,
        "text_html": claim,
        "from_title": graph.nodes[hop["from"]]["title"],
        "to_title": graph.nodes[hop["to"]]["title"],
        "kind_label": EDGE_LABELS.get(hop["kind"], hop["kind"]),
    }


@require_safe
def paper_bib(request: HttpRequest, key: str) -> HttpResponse:
    """A paper's BibTeX is the papers API's (`?format=bibtex`): one implementation."""
    return HttpResponseRedirect(reverse("paper-detail", args=[key]) + "?format=bibtex")
