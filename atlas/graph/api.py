"""The graph app's read API: nodes, edges, the graph document, explained paths and lenses.

Each view parses its query (`atlas.api.filters`), asks `atlas.api.queries` or the graph services
for the data and answers what its serializer makes of it. Their OpenAPI declarations are in
`atlas.graph.api_schema`.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from atlas.api import filters, queries
from atlas.api.base import DocumentAPIView, ListAPIView
from atlas.api.queries import unknown_node
from atlas.graph import api_schema as schema
from atlas.graph import serializers as s
from atlas.graph import services as graph
from atlas.graph.models import Edge, Node, NodeKind
from atlas.graph.views import EDGE_LABELS, KIND_LABELS

SLUG_RE = re.compile(filters.SLUG_PATTERN)


@schema.NODES
class NodeViewSet(ListAPIView):
    """Nodes of the knowledge map: families, methods, lenses, failure modes, essays, ..."""

    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    serializer_class = s.NodeSerializer
    query_serializers = {"list": filters.NodeQuery}

    def get_queryset(self) -> QuerySet[Node]:
        return Node.objects.all()

    def select(self, query: dict[str, Any]) -> QuerySet[Node]:
        return queries.nodes(query)

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        self.query()
        node = self.find(queries.node_detail(), SLUG_RE, slug=slug)
        if node is None:
            raise NotFound(unknown_node(slug or ""))
        return Response(s.NodeDetailSerializer(node).data)


@schema.EDGES
class EdgeViewSet(ListAPIView):
    """Edges between nodes (lineage, unifies, variant_of, fixes, suffers_from, ...)."""

    serializer_class = s.EdgeSerializer
    query_serializers = {"list": filters.EdgeQuery}

    def get_queryset(self) -> QuerySet[Edge]:
        return Edge.objects.all()

    def select(self, query: dict[str, Any]) -> QuerySet[Edge]:
        return queries.edges(query)


@schema.GRAPH
class GraphView(DocumentAPIView):
    """The knowledge graph in networkx node-link form."""

    query_serializer_class = filters.GraphQuery
    serializer_class = s.GraphSerializer

    def document(self, query: dict[str, Any]) -> dict[str, Any]:
        around = query.get("around")
        try:
            chosen = graph.get_graph() if around is None else graph.subgraph(around, query["depth"])
        except KeyError:
            raise ValidationError({"around": [unknown_node(around)]}) from None
        document = graph.node_link(chosen)
        if query.get("include") == "map":
            document.update(map_extras())
        return document


def map_extras() -> dict[str, Any]:
    """What the site's map draws beside the graph: lens facets, lens titles, tours, kind labels."""
    whole = graph.get_graph()
    facets = graph.facets()
    lenses = sorted(facets, key=lambda slug: (whole.nodes[slug]["order"], slug))
    return {
        "facets": facets,
        "lenses": {slug: whole.nodes[slug]["title"] for slug in lenses},
        "tours": [tour_document(tour) for tour in Node.objects.filter(kind=NodeKind.TOUR)],
        "kinds": KIND_LABELS,
        "edge_kinds": EDGE_LABELS,
    }


def tour_document(tour: Node) -> dict[str, Any]:
    steps = [{"node": s["node"], "note": s.get("note_html", "")} for s in tour.data.get("steps", [])]
    return {"slug": tour.slug, "title": tour.title, "circle": tour.data.get("circle"), "steps": steps}


@schema.PATHS
class PathView(DocumentAPIView):
    """Shortest explained paths through the knowledge graph."""

    query_serializer_class = filters.PathQuery
    serializer_class = s.PathsSerializer

    def document(self, query: dict[str, Any]) -> dict[str, Any]:
        source, target = query["from"], query["to"]
        ends = queries.path_ends(source, target)
        return {
            "source": ends[source],
            "target": ends[target],
            "paths": queries.paths(source, target, query["k"]),
        }


@schema.LENSES
class LensViewSet(ListAPIView):
    """Lenses and comparison axes: how every family answers one question."""

    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    serializer_class = s.LensSerializer
    query_serializers = {"list": filters.LensQuery, "retrieve": filters.LensDetailQuery}

    def get_queryset(self) -> QuerySet[Node]:
        return queries.lens_tables()

    def select(self, query: dict[str, Any]) -> QuerySet[Node]:
        return queries.lenses(query)

    def list_context(self, query: dict[str, Any]) -> dict[str, Any]:
        return {"family": query.get("family")}  # each table keeps only this family's rows

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        query = self.query()
        lens = self.find(queries.lens_tables(), SLUG_RE, slug=slug)
        if lens is None:
            raise NotFound(f"No lens or axis with slug {slug!r}.")
        return Response(s.LensSerializer(lens, context=self.list_context(query)).data)
