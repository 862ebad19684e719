"""Serializers of the graph app's API: nodes, edges, the graph document, paths and lenses.

Every field is typed and described (the descriptions are the OpenAPI schema's), and every
answer of these endpoints is produced by them. Output only: the content is read-only, it changes
through pull requests and `manage.py content load`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atlas.api.filters import LENS_KIND_CHOICES
from atlas.api.serializers import JSONObjectField
from atlas.content.schema import FAMILIES
from atlas.graph.models import Edge, EdgeKind, EdgeStyle, Node, NodeKind
from atlas.runs import recipes


def node_api_url(slug: str) -> str:
    return f"/api/nodes/{slug}/"


# Fields that several serializers declare alike (a field instance belongs to one serializer, so these
# make a new one each time); the help texts are the schema's descriptions.


def edge_end_field(end: str, **kwargs: Any) -> serializers.CharField:
    verb = "leaves" if end == "source" else "enters"
    return serializers.CharField(help_text=f"Slug of the node the edge {verb}.", **kwargs)


def edge_kind_field(**kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=EdgeKind.choices, help_text="Type of the relation.", **kwargs)


def edge_text_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        allow_blank=True, help_text="One line shown on the map; may be empty.", **kwargs
    )


def edge_style_field(**kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=EdgeStyle.choices, help_text="`dotted` for uncertain lineage.", **kwargs
    )


def edge_origin_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(help_text="The field of the source record that produced the edge.", **kwargs)


# --- Nodes and edges ---------------------------------------------------------------------------


class NodeRefSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="Stable identifier of the node (its file name in content/).")
    kind = serializers.ChoiceField(choices=NodeKind.choices, help_text="What the node is.")
    title = serializers.CharField(help_text="Display title.")


class FigureSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="The number as quoted, e.g. `FID 1.90`.")
    what = serializers.CharField(help_text="What was measured, as Markdown.")
    what_html = serializers.CharField(help_text="`what` rendered to sanitized HTML.")
    paper = serializers.CharField(
        required=False, allow_null=True, help_text="Key of the paper the number comes from, if any."
    )


class NodeSerializer(NodeRefSerializer):
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    summary_html = serializers.SerializerMethodField(help_text="`summary` rendered to sanitized HTML.")
    families = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs of the families the node belongs to (map filter)."
    )
    aliases = serializers.ListField(child=serializers.CharField(), help_text="Other names it is known by.")
    order = serializers.IntegerField(
        help_text="Display order within its kind (its `order` or `number`, else 0)."
    )
    year = serializers.SerializerMethodField(
        help_text="Year of the method or result, where content gives one."
    )
    url = serializers.SerializerMethodField(help_text="This node in the API.")
    page_url = serializers.SerializerMethodField(help_text="The node's page on the site.")

    def get_summary_html(self, node) -> str:
        return node.data.get("summary_html", "")

    def get_year(self, node) -> int | None:
        year = node.data.get("year")
        return year if isinstance(year, int) and not isinstance(year, bool) else None

    def get_url(self, node) -> str:
        return node_api_url(node.slug)

    def get_page_url(self, node) -> str:
        return node.get_absolute_url()


@dataclass(frozen=True)
class NodeEdge:
    """An edge as seen from one of its nodes: which way it points and the node at the other end."""

    edge: Edge
    direction: str
    node: Node


class NodeEdgeSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=["out", "in"], help_text="`out`: this node is the edge's source; `in`: its target."
    )
    kind = edge_kind_field(source="edge.kind")
    node = NodeRefSerializer(help_text="The node at the other end.")
    text = edge_text_field(source="edge.text")
    style = edge_style_field(source="edge.style")
    origin = edge_origin_field(source="edge.origin")


class CitedPaperSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Key of the paper.")
    title = serializers.CharField(help_text="Title of the paper.")
    year = serializers.IntegerField(help_text="Year of publication.")
    url = serializers.SerializerMethodField(help_text="The paper in the API.")

    def get_url(self, paper) -> str:
        return f"/api/papers/{paper.key}/"


class NodeDetailSerializer(NodeSerializer):
    body_md = serializers.CharField(allow_blank=True, help_text="The body as Markdown source.")
    body_html = serializers.CharField(allow_blank=True, help_text="The body rendered to sanitized HTML.")
    equation = serializers.CharField(
        allow_blank=True, help_text="The key equation in LaTeX (no `$`); may be empty."
    )
    equation_html = serializers.CharField(allow_blank=True, help_text="The key equation as display MathML.")
    figures = FigureSerializer(many=True, help_text="Numbers quoted on this node.")
    data = JSONObjectField(
        help_text=(
            "The kind-specific keys of the record as validated (see content/SCHEMA.md), with `<key>_html` "
            "siblings holding the rendered HTML of Markdown fields."
        )
    )
    papers = serializers.SerializerMethodField(help_text="Papers cited by the node, in the order written.")
    edges = serializers.SerializerMethodField(
        help_text="Typed edges touching the node: outgoing first, then incoming, each by kind then slug."
    )
    recipes = serializers.SerializerMethodField(help_text="Slugs of the runnable recipes shown on this node.")

    @extend_schema_field(CitedPaperSerializer(many=True))
    def get_papers(self, node) -> list[dict[str, Any]]:
        return CitedPaperSerializer([c.paper for c in node.citations.all()], many=True).data

    @extend_schema_field(NodeEdgeSerializer(many=True))
    def get_edges(self, node) -> list[dict[str, Any]]:
        out = sorted(node.out_edges.all(), key=lambda e: (e.kind, e.target.slug))
        into = sorted(node.in_edges.all(), key=lambda e: (e.kind, e.source.slug))
        rows = [NodeEdge(e, "out", e.target) for e in out] + [NodeEdge(e, "in", e.source) for e in into]
        return NodeEdgeSerializer(rows, many=True).data

    def get_recipes(self, node) -> list[str]:
        return [recipe.slug for recipe in recipes.for_node(node.slug)]


class EdgeSerializer(serializers.Serializer):
    source = edge_end_field("source", source="source.slug")
    target = edge_end_field("target", source="target.slug")
    kind = edge_kind_field()
    text = edge_text_field()
    style = edge_style_field()
    origin = edge_origin_field()


# --- Graph and paths ---------------------------------------------------------------------------


class GraphNodeSerializer(serializers.Serializer):
    # In the order networkx writes them: the node's attributes, its id, then the layout's keys.
    slug = serializers.CharField(help_text="The node's slug.")
    kind = serializers.ChoiceField(choices=NodeKind.choices, help_text="What the node is.")
    title = serializers.CharField(help_text="Display title.")
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    families = serializers.ListField(child=serializers.CharField(), help_text="Family slugs of the node.")
    order = serializers.IntegerField(help_text="Display order within its kind.")
    aliases = serializers.ListField(child=serializers.CharField(), help_text="Other names.")
    year = serializers.IntegerField(
        allow_null=True, help_text="Year of the method or result, where content gives one."
    )
    id = serializers.CharField(help_text="The node's slug (networkx node id).")
    x = serializers.FloatField(help_text="Horizontal position in the layout box.")
    y = serializers.FloatField(help_text="Vertical position in the layout box.")
    tier = serializers.IntegerField(help_text="Level of detail: 0 is shown at every zoom, higher later.")
    band = serializers.CharField(
        allow_null=True, help_text="The family region the node is drawn in; null outside every region."
    )


class GraphLinkSerializer(serializers.Serializer):
    kind = edge_kind_field()
    text = edge_text_field()
    style = edge_style_field()
    source = edge_end_field("source")
    target = edge_end_field("target")
    key = serializers.CharField(help_text="networkx multigraph edge key (the edge kind).")


class GraphRegionSerializer(serializers.Serializer):
    family = serializers.CharField(help_text="Slug of the family the horizontal band belongs to.")
    title = serializers.CharField(help_text="Title of the family.")
    y = serializers.FloatField(help_text="Top of the band.")
    h = serializers.FloatField(help_text="Height of the band.")


class GraphAxisTickSerializer(serializers.Serializer):
    x = serializers.FloatField(help_text="Horizontal position of the tick.")
    year = serializers.IntegerField(help_text="The year it marks.")


class GraphInfoSerializer(serializers.Serializer):
    width = serializers.FloatField(help_text="Width of the layout box (SVG user units).")
    height = serializers.FloatField(help_text="Height of the layout box (SVG user units).")
    version = serializers.CharField(help_text="Hash of the loaded content the graph was built from.")
    regions = GraphRegionSerializer(many=True, help_text="The families' horizontal bands, top to bottom.")
    axis = GraphAxisTickSerializer(many=True, help_text="The year axis: where each marked year lies.")


class TourStepSerializer(serializers.Serializer):
    node = serializers.CharField(help_text="Slug of the node the step visits.")
    note = serializers.CharField(allow_blank=True, help_text="Why, as sanitized HTML; may be empty.")


class TourSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="Slug of the tour.")
    title = serializers.CharField(help_text="Title of the tour.")
    circle = serializers.IntegerField(allow_null=True, help_text="The reading circle it belongs to, if any.")
    steps = TourStepSerializer(many=True, help_text="The nodes to read, in order.")


def labels_field(what: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text=f"Display label of each {what}, in display order.",
    )


class GraphSerializer(serializers.Serializer):
    directed = serializers.BooleanField(help_text="Always true: edges have a direction.")
    multigraph = serializers.BooleanField(
        help_text="Always true: two nodes may be joined by edges of several kinds."
    )
    graph = GraphInfoSerializer(help_text="Graph attributes: the layout box and the content version.")
    nodes = GraphNodeSerializer(
        many=True, help_text="The nodes, sorted by slug, with their layout positions."
    )
    links = GraphLinkSerializer(many=True, help_text="The edges, sorted by source, target and kind.")
    # Only with `include=map` (a field missing from the document is left out of the answer).
    facets = serializers.DictField(
        child=serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        required=False,
        help_text="`include=map`: lens (or axis) slug → facet tag → the families whose value carries it.",
    )
    lenses = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="`include=map`: title of each lens and axis, by slug, in display order.",
    )
    tours = TourSerializer(many=True, required=False, help_text="`include=map`: the reading tours.")
    kinds = labels_field("node kind (`include=map`)")
    edge_kinds = labels_field("edge kind (`include=map`)")


class HopSerializer(serializers.Serializer):
    # `from` is a keyword: declared below through the fields mapping.
    to = serializers.CharField(help_text="Slug of the node this hop arrives at.")
    kind = serializers.ChoiceField(choices=EdgeKind.choices, help_text="Type of the edge walked.")
    text = serializers.CharField(help_text="The relation in words.")
    direction = serializers.ChoiceField(
        choices=["forward", "backward"],
        help_text="`forward` when the edge points along the path, `backward` when walked against it.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"from": serializers.CharField(help_text="Slug of the node this hop leaves."), **fields}


class PathSerializer(serializers.Serializer):
    length = serializers.IntegerField(help_text="Number of hops.")
    nodes = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs along the path, ends included."
    )
    hops = HopSerializer(many=True, help_text="The hops in order, each with the relation explained.")


class PathsSerializer(serializers.Serializer):
    source = NodeRefSerializer(help_text="The start node.")
    target = NodeRefSerializer(help_text="The end node.")
    paths = PathSerializer(
        many=True,
        help_text="Up to `k` explained paths, cheapest (by weighted hops) first; empty when unconnected.",
    )


# --- Lenses ------------------------------------------------------------------------------------


class LensRowSerializer(serializers.Serializer):
    family = serializers.CharField(source="family.slug", help_text="Slug of the family.")
    family_title = serializers.CharField(source="family.title", help_text="Title of the family.")
    variant = serializers.CharField(
        allow_null=True,
        help_text="The variant this row describes (e.g. `WGAN`); null for the family's main row.",
    )
    text = serializers.CharField(help_text="The value, as Markdown.")
    text_html = serializers.CharField(help_text="`text` rendered to sanitized HTML.")
    facets = serializers.ListField(
        child=serializers.CharField(), help_text="Kebab-case tags for the map's filter."
    )
    papers = serializers.SerializerMethodField(help_text="Keys of the papers behind this value.")

    def get_papers(self, value) -> list[str]:
        return sorted(paper.key for paper in value.papers.all())


class LensSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="Slug of the lens or axis.")
    kind = serializers.ChoiceField(choices=LENS_KIND_CHOICES, help_text="`lens` or comparison `axis`.")
    title = serializers.CharField(help_text="Display title.")
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    summary_html = serializers.SerializerMethodField(help_text="`summary` rendered to sanitized HTML.")
    order = serializers.IntegerField(help_text="Display order.")
    url = serializers.SerializerMethodField(help_text="This table in the API.")
    node_url = serializers.SerializerMethodField(help_text="The lens as a node in the API.")
    rows = serializers.SerializerMethodField(
        help_text="The table: one main row per family (in the fixed family order), then its variant rows."
    )

    def get_summary_html(self, lens) -> str:
        return lens.data.get("summary_html", "")

    def get_url(self, lens) -> str:
        return f"/api/lenses/{lens.slug}/"

    def get_node_url(self, lens) -> str:
        return node_api_url(lens.slug)

    @extend_schema_field(LensRowSerializer(many=True))
    def get_rows(self, lens) -> list[dict[str, Any]]:
        family = self.context.get("family")
        position = {name: i for i, name in enumerate(FAMILIES)}
        rows = sorted(
            (v for v in lens.lens_values.all() if family is None or v.family.slug == family),
            key=lambda v: (
                position.get(v.family.slug, len(position)),
                v.family.slug,
                v.variant is not None,
                v.order,
            ),
        )
        return LensRowSerializer(rows, many=True).data
