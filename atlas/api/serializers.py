"""Serializers of the read API: nodes, edges, graph, paths, lenses, papers, results and the guide.

Every field is typed and described (the descriptions are the OpenAPI schema's). Output only:
the content is read-only, it changes through pull requests and `manage.py content load`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atlas.api.filters import LENS_KIND_CHOICES
from atlas.content.schema import FAMILIES
from atlas.graph.models import EdgeKind, EdgeStyle, NodeKind
from atlas.runs import recipes


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object whose keys depend on the record (typed `object` in the schema)."""


def node_api_url(slug: str) -> str:
    return f"/api/nodes/{slug}/"


# Fields that several serializers declare alike (a field instance belongs to one serializer, so these
# make a new one each time); the help texts are the schema's descriptions.


def edge_end_field(end: str, **kwargs: Any) -> serializers.CharField:
    verb = "leaves" if end == "source" else "enters"
    return serializers.CharField(help_text=f"Slug of the node the edge {verb}.", **kwargs)


def edge_kind_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=EdgeKind.choices, help_text="Type of the relation.")


def edge_text_field() -> serializers.CharField:
    return serializers.CharField(allow_blank=True, help_text="One line shown on the map; may be empty.")


def edge_style_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=EdgeStyle.choices, help_text="`dotted` for uncertain lineage.")


def edge_origin_field() -> serializers.CharField:
    return serializers.CharField(help_text="The field of the source record that produced the edge.")


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


class NodeEdgeSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=["out", "in"], help_text="`out`: this node is the edge's source; `in`: its target."
    )
    kind = edge_kind_field()
    node = NodeRefSerializer(help_text="The node at the other end.")
    text = edge_text_field()
    style = edge_style_field()
    origin = edge_origin_field()


class CitedPaperSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Key of the paper.")
    title = serializers.CharField(help_text="Title of the paper.")
    year = serializers.IntegerField(help_text="Year of publication.")
    url = serializers.CharField(help_text="The paper in the API.")


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
        return [
            {
                "key": c.paper.key,
                "title": c.paper.title,
                "year": c.paper.year,
                "url": f"/api/papers/{c.paper.key}/",
            }
            for c in node.citations.all()
        ]

    @extend_schema_field(NodeEdgeSerializer(many=True))
    def get_edges(self, node) -> list[dict[str, Any]]:
        def row(edge, direction: str) -> dict[str, Any]:
            other = edge.target if direction == "out" else edge.source
            return {
                "direction": direction,
                "kind": edge.kind,
                "node": {"slug": other.slug, "kind": other.kind, "title": other.title},
                "text": edge.text,
                "style": edge.style,
                "origin": edge.origin,
            }

        out = sorted(node.out_edges.all(), key=lambda e: (e.kind, e.target.slug))
        into = sorted(node.in_edges.all(), key=lambda e: (e.kind, e.source.slug))
        return [row(e, "out") for e in out] + [row(e, "in") for e in into]

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
    id = serializers.CharField(help_text="The node's slug (networkx node id).")
    slug = serializers.CharField(help_text="The node's slug.")
    kind = serializers.ChoiceField(choices=NodeKind.choices, help_text="What the node is.")
    title = serializers.CharField(help_text="Display title.")
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    families = serializers.ListField(child=serializers.CharField(), help_text="Family slugs of the node.")
    order = serializers.IntegerField(help_text="Display order within its kind.")
    aliases = serializers.ListField(child=serializers.CharField(), help_text="Other names.")
    x = serializers.FloatField(help_text="Horizontal position in the layout box.")
    y = serializers.FloatField(help_text="Vertical position in the layout box.")


class GraphLinkSerializer(serializers.Serializer):
    source = edge_end_field("source")
    target = edge_end_field("target")
    key = serializers.CharField(help_text="networkx multigraph edge key (the edge kind).")
    kind = edge_kind_field()
    text = edge_text_field()
    style = edge_style_field()


class GraphInfoSerializer(serializers.Serializer):
    width = serializers.FloatField(help_text="Width of the layout box (SVG user units).")
    height = serializers.FloatField(help_text="Height of the layout box (SVG user units).")
    version = serializers.CharField(help_text="Hash of the loaded content the graph was built from.")


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


# --- Papers ------------------------------------------------------------------------------------


class PaperSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Stable key: first author's surname, year and a word.")
    title = serializers.CharField(help_text="Title.")
    authors = serializers.ListField(
        child=serializers.CharField(), help_text="`Surname, Given` strings; may end with `others`."
    )
    year = serializers.IntegerField(help_text="Year of publication.")
    venue = serializers.CharField(allow_blank=True, help_text="Venue; empty when not certain.")
    arxiv = serializers.CharField(
        allow_blank=True, help_text="arXiv identifier, e.g. `2006.11239`; may be empty."
    )
    doi = serializers.CharField(allow_blank=True, help_text="DOI without URL prefix; may be empty.")
    url = serializers.CharField(allow_blank=True, help_text="The paper's own URL; may be empty.")
    link = serializers.CharField(
        allow_blank=True, help_text="Best link to read it: the URL, else DOI, else arXiv."
    )
    note = serializers.CharField(allow_blank=True, help_text="Editorial note; may be empty.")
    cited_by = serializers.SerializerMethodField(help_text="Slugs of the nodes citing the paper, sorted.")
    api_url = serializers.SerializerMethodField(help_text="This paper in the API.")
    bibtex_url = serializers.SerializerMethodField(help_text="This paper as BibTeX.")

    def get_cited_by(self, paper) -> list[str]:
        return sorted(c.node.slug for c in paper.citations.all())

    def get_api_url(self, paper) -> str:
        return f"/api/papers/{paper.key}/"

    def get_bibtex_url(self, paper) -> str:
        return f"/api/papers/{paper.key}/?format=bibtex"


# --- Results -----------------------------------------------------------------------------------


class ScoreSerializer(serializers.Serializer):
    metric = serializers.CharField(allow_blank=True, help_text="The ranking metric; empty when none applies.")
    value = serializers.FloatField(allow_null=True, help_text="The run's value of it; null when it lacks it.")
    better = serializers.ChoiceField(
        choices=["lower", "higher"], allow_null=True, help_text="Whether lower or higher values are better."
    )


class RunResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="run.public_id", help_text="Public id of the run.")
    url = serializers.SerializerMethodField(help_text="The run in the API.")
    recipe = serializers.CharField(source="run.recipe", help_text="Slug of the recipe.")
    model = serializers.CharField(source="run.model", help_text="Compute registry name of the model.")
    family = serializers.CharField(source="run.family", help_text="Family of the model.")
    dataset = serializers.CharField(source="run.dataset", help_text="Dataset trained and evaluated on.")
    config = JSONObjectField(source="run.config", help_text="The canonical configuration of the run.")
    seed = serializers.IntegerField(source="run.seed", help_text="Random seed.")
    code_version = serializers.CharField(
        source="run.code_version", help_text="Version of the code that ran it."
    )
    finished_at = serializers.DateTimeField(
        source="run.finished_at", allow_null=True, help_text="When it finished."
    )
    score = serializers.SerializerMethodField(help_text="The run's value of the ranking metric.")
    metrics = JSONObjectField(source="run.metrics", help_text="Every metric of the run (by data kind).")
    result = JSONObjectField(
        source="run.result", help_text="Wall time, steps, NFE, parameters, device and versions."
    )

    def get_url(self, scored) -> str:
        return f"/api/runs/{scored.run.public_id}/"

    @extend_schema_field(ScoreSerializer)
    def get_score(self, scored) -> dict[str, Any]:
        metric = scored.metric
        return {
            "metric": metric.key if metric else "",
            "value": scored.value,
            "better": metric.better if metric else None,
        }


class ResultGroupSerializer(serializers.Serializer):
    recipe = serializers.CharField(help_text="Slug of the recipe.")
    dataset = serializers.CharField(help_text="The dataset.")
    family = serializers.CharField(help_text="Family of the recipe's model.")
    model = serializers.CharField(help_text="Compute registry name of the model.")
    runs = serializers.IntegerField(help_text="Succeeded runs in this group.")
    metric = serializers.SerializerMethodField(
        help_text="The metric that chose `best`; empty when none applies."
    )
    code_versions = serializers.ListField(
        child=serializers.CharField(), help_text="Code versions of the group's runs, sorted."
    )
    best = serializers.SerializerMethodField(help_text="The best run by `metric` (ties: the newest).")
    latest = serializers.SerializerMethodField(help_text="The most recently finished run.")

    def get_metric(self, group) -> str:
        return group.metric.key if group.metric else ""

    @extend_schema_field(RunResultSerializer)
    def get_best(self, group) -> dict[str, Any]:
        return RunResultSerializer(group.best).data

    @extend_schema_field(RunResultSerializer)
    def get_latest(self, group) -> dict[str, Any]:
        return RunResultSerializer(group.latest).data


class ComparisonEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 for the best family.")
    family = serializers.CharField(help_text="The family.")
    runs = serializers.IntegerField(help_text="Succeeded runs of the family on the dataset.")
    best = RunResultSerializer(help_text="The family's best run on the dataset.")


class ComparisonSerializer(serializers.Serializer):
    dataset = serializers.CharField(help_text="The dataset compared on.")
    metric = serializers.CharField(
        allow_blank=True, help_text="The ranking metric; empty when no run has one."
    )
    better = serializers.ChoiceField(
        choices=["lower", "higher"], allow_null=True, help_text="Whether lower or higher values are better."
    )
    entries = ComparisonEntrySerializer(many=True, help_text="One entry per family with results, best first.")
    missing_families = serializers.ListField(
        child=serializers.CharField(), help_text="Families with no succeeded run on the dataset."
    )


# --- Guide -------------------------------------------------------------------------------------


class GuideAnswerOptionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id: the id of the question or leaf the answer leads to.")
    index = serializers.IntegerField(help_text="0-based position among the question's answers.")
    label = serializers.CharField(help_text="The answer as shown.")
    next = serializers.CharField(allow_null=True, help_text="Id of the next question, or null.")
    leaf = serializers.CharField(allow_null=True, help_text="Id of the recommendation reached, or null.")


class GuideQuestionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id of the question.")
    text = serializers.CharField(help_text="The question, as Markdown.")
    text_html = serializers.CharField(help_text="The question rendered to sanitized HTML.")
    help = serializers.CharField(allow_blank=True, help_text="Help text, as Markdown; may be empty.")
    help_html = serializers.CharField(
        allow_blank=True, help_text="Help text as sanitized HTML; may be empty."
    )
    answers = GuideAnswerOptionSerializer(many=True, help_text="The possible answers, in order.")


class GuideLeafSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id of the recommendation.")
    title = serializers.CharField(help_text="The recommendation in a few words.")
    why = serializers.CharField(help_text="The reasoning, as Markdown.")
    why_html = serializers.CharField(help_text="The reasoning rendered to sanitized HTML.")
    recommends = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs of the recommended nodes."
    )
    watch_out = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs of failure modes to watch."
    )
    recipe = serializers.CharField(allow_null=True, help_text="The recipe the content suggests, if any.")


class GuideTreeSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="Slug of the guide node.")
    title = serializers.CharField(help_text="Title of the guide.")
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    summary_html = serializers.CharField(help_text="`summary` rendered to sanitized HTML.")
    root = serializers.CharField(help_text="Id of the first question.")
    questions = serializers.SerializerMethodField(help_text="Every question of the tree.")
    leaves = serializers.SerializerMethodField(help_text="Every recommendation of the tree.")

    @extend_schema_field(GuideQuestionSerializer(many=True))
    def get_questions(self, tree) -> list[dict[str, Any]]:
        return GuideQuestionSerializer(list(tree.questions.values()), many=True).data

    @extend_schema_field(GuideLeafSerializer(many=True))
    def get_leaves(self, tree) -> list[dict[str, Any]]:
        return GuideLeafSerializer(list(tree.leaves.values()), many=True).data


class GuideStepSerializer(serializers.Serializer):
    question = serializers.CharField(source="question.id", help_text="Id of the question answered.")
    question_text = serializers.CharField(source="question.text", help_text="The question.")
    answer = serializers.CharField(source="answer.id", help_text="Stable id of the answer given.")
    index = serializers.IntegerField(source="answer.index", help_text="0-based index of the answer given.")
    label = serializers.CharField(source="answer.label", help_text="The answer given, as shown.")


class GuideNodeSerializer(NodeRefSerializer):
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    url = serializers.SerializerMethodField(help_text="The node in the API.")

    def get_url(self, ref) -> str:
        return node_api_url(ref.slug)


class GuideStateSerializer(serializers.Serializer):
    done = serializers.BooleanField(help_text="True when a recommendation was reached.")
    answers = serializers.ListField(
        child=serializers.CharField(),
        help_text="The answers so far in canonical form (`question:answer-id`), to build links.",
    )
    path = GuideStepSerializer(many=True, help_text="The questions answered so far, in order.")
    question = GuideQuestionSerializer(allow_null=True, help_text="The next question; null when done.")
    leaf = GuideLeafSerializer(allow_null=True, help_text="The recommendation; null until reached.")
    recommends = GuideNodeSerializer(many=True, help_text="The recommended nodes (empty until done).")
    watch_out = GuideNodeSerializer(many=True, help_text="Failure modes to watch (empty until done).")
    recipes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Runnable recipes for the recommendation (slugs; `Try it live`).",
    )
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="The reasoning: each question with the answer given, then why the recommendation fits.",
    )


# --- Errors ------------------------------------------------------------------------------------


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")
