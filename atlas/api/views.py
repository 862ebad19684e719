"""The read API: parse the query, ask the models or a service, serialize.

Everything here is GET-only and public. Lists are paginated (`count`/`next` reach the end; a
unique key ends every ordering), every parameter is declared (unknown, repeated or malformed ones
are 400s naming them), and responses carry content-derived ETag / Last-Modified validators
(conditional GETs get 304s). The lists' selections live in `atlas.api.queries`, graph algorithms in
`atlas.graph.services`, the decision guide in `atlas.guide.services`, results in `atlas.runs.board`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from atlas.api import filters, queries
from atlas.api import serializers as s
from atlas.api.conditional import ConditionalMixin
from atlas.api.pagination import AtlasPagination
from atlas.api.queries import unknown_node
from atlas.api.renderers import BibTeXRenderer
from atlas.api.schema import AtlasAutoSchema
from atlas.graph import services as graph
from atlas.graph.models import Edge, Node
from atlas.guide import services as guide
from atlas.papers.bibtex import bibtex_for
from atlas.papers.models import Paper
from atlas.runs import board
from atlas.runs.models import Run

SLUG_RE = re.compile(filters.SLUG_PATTERN)
PAPER_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

FIELD_ERRORS = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": "Field-keyed messages: each offending parameter or field maps to its messages.",
    },
    description="Invalid input: the body maps each offending parameter to its messages.",
    examples=[
        OpenApiExample(
            "Unknown parameter and a bad integer",
            value={
                "colour": ["Unknown query parameter. Valid parameters: page, page_size, year."],
                "year": ["A whole number (digits only) is required."],
            },
            status_codes=["400"],
        )
    ],
)
NOT_FOUND = OpenApiResponse(s.DetailSerializer, description="No such resource (or a page past the last one).")
CACHE_HEADERS = [
    OpenApiParameter(
        "ETag", str, OpenApiParameter.HEADER, response=[200], description="Validator for conditional GETs."
    ),
    OpenApiParameter(
        "Last-Modified",
        str,
        OpenApiParameter.HEADER,
        response=[200],
        description="When the data behind the response last changed (content load or finished run).",
    ),
]


def read_operation(
    *,
    summary: str,
    ok: Any,
    description: str | None = None,
    parameters: Sequence[Any] = (),
    examples: Sequence[OpenApiExample] = (),
    not_found: bool = True,
) -> Callable:
    """`extend_schema` of a read operation: its 200 answer (or `{(200, media type): answer}`), the
    400 that every one may give, the 404 unless `not_found` is False, and the validator headers."""
    responses = dict(ok) if isinstance(ok, dict) else {200: ok}
    responses[400] = FIELD_ERRORS
    if not_found:
        responses[404] = NOT_FOUND
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[*parameters, *CACHE_HEADERS],
        responses=responses,
        examples=list(examples) or None,
    )


def response_example(name: str, value: Any, **kwargs: Any) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, **kwargs)


class ReadOnlyAPIView(ConditionalMixin):
    """Common behaviour of the read endpoints: strict query parsing, validators, 400s for bad `format`."""

    query_serializers: dict[str, type] = {}  # action → serializer of its query parameters

    def query(self) -> dict[str, Any]:
        """The action's query parameters, validated (a 400 naming every bad one otherwise)."""
        if not hasattr(self, "_query"):
            paginator = getattr(self, "paginator", None)
            extra = AtlasPagination.query_params if paginator is not None else ()
            serializer_class = self.query_serializers.get(self.action)
            errors: dict[str, list[str]] = {}
            try:
                self._query = filters.parse_query(self.request, serializer_class, extra)
            except ValidationError as exc:
                errors.update(exc.detail)
            if paginator is not None:  # report bad page/page_size together with the rest
                errors.update(paginator.parameter_errors(self.request))
            if errors:
                raise ValidationError(errors)
        return self._query

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            formats = ", ".join(r.format for r in self.get_renderers())
            raise ValidationError({"format": [f"Unknown format. Valid formats: {formats}."]}) from None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Errors and OPTIONS metadata are JSON even when BibTeX was asked for.
        if isinstance(getattr(response, "accepted_renderer", None), BibTeXRenderer) and not isinstance(
            response.data, str
        ):
            response.accepted_renderer, response.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return response


class ListAPIView(ReadOnlyAPIView, viewsets.GenericViewSet):
    """A paginated list: `list` parses the query, asks `select` for the items, serializes one page."""

    pagination_class = AtlasPagination

    def select(self, query: dict[str, Any]) -> QuerySet | list:
        """The items the validated query selects, in their final order."""
        raise NotImplementedError

    def list_context(self, query: dict[str, Any]) -> dict[str, Any]:
        """Serializer context of the listed items."""
        return {}

    def list(self, request: Request) -> Response:
        query = self.query()
        page = self.paginate_queryset(self.select(query))
        data = self.get_serializer_class()(page, many=True, context=self.list_context(query)).data
        return self.get_paginated_response(data)

    @staticmethod
    def find(records: QuerySet, pattern: re.Pattern[str], **lookup: str | None) -> Model | None:
        """The one record matching `lookup`, or None when its value is missing or malformed."""
        if not all(value and pattern.fullmatch(value) for value in lookup.values()):
            return None
        return records.filter(**lookup).first()


class DocumentSchema(AtlasAutoSchema):
    """For views whose `list` action answers one document (the graph, paths, the guide), not a list."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class DocumentAPIView(ReadOnlyAPIView, viewsets.ViewSet):
    """One document, not paginated: `list` parses the query and answers what `document` builds."""

    schema = DocumentSchema()

    def document(self, query: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def list(self, request: Request) -> Response:
        return Response(self.document(self.query()))


# --- Nodes -------------------------------------------------------------------------------------


@extend_schema_view(
    list=read_operation(
        summary="List nodes",
        description="Every node of the map, filtered by kind, family or text, paginated.",
        parameters=[filters.NodeQuery],
        ok=s.NodeSerializer(many=True),
        examples=[
            response_example(
                "One method",
                value={
                    "slug": "ddpm",
                    "kind": "method",
                    "title": "DDPM",
                    "summary": "Denoising diffusion probabilistic models.",
                    "summary_html": "Denoising diffusion probabilistic models.",
                    "families": ["diffusion"],
                    "aliases": [],
                    "order": 0,
                    "year": 2020,
                    "url": "/api/nodes/ddpm/",
                    "page_url": "/node/ddpm/",
                },
            )
        ],
    ),
    retrieve=read_operation(
        summary="One node with its typed edges",
        description="A node with its body, data, cited papers, runnable recipes and every edge touching it.",
        parameters=[
            OpenApiParameter(
                "slug", str, OpenApiParameter.PATH, description="Slug of the node, e.g. `ddpm`."
            ),
        ],
        ok=s.NodeDetailSerializer,
    ),
)
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


# --- Edges -------------------------------------------------------------------------------------


@extend_schema_view(
    list=read_operation(
        summary="List edges",
        description="Typed, directed edges of the map, filtered by kind and by the nodes they touch.",
        parameters=[filters.EdgeQuery],
        ok=s.EdgeSerializer(many=True),
        examples=[
            response_example(
                "A fix",
                value={
                    "source": "wgan",
                    "target": "mode-collapse",
                    "kind": "fixes",
                    "text": "",
                    "style": "solid",
                    "origin": "fixes",
                },
            )
        ],
    )
)
class EdgeViewSet(ListAPIView):
    """Edges between nodes (lineage, unifies, variant_of, fixes, suffers_from, ...)."""

    serializer_class = s.EdgeSerializer
    query_serializers = {"list": filters.EdgeQuery}

    def get_queryset(self) -> QuerySet[Edge]:
        return Edge.objects.all()

    def select(self, query: dict[str, Any]) -> QuerySet[Edge]:
        return queries.edges(query)


# --- Graph and paths ---------------------------------------------------------------------------


@extend_schema_view(
    list=read_operation(
        summary="The map as a graph",
        description=(
            "The whole knowledge graph, or the subgraph within `depth` hops of `around` (edges in either "
            "direction), as networkx node-link JSON (`nodes`, `links`) with layout positions. Not paginated: "
            "one document."
        ),
        parameters=[filters.GraphQuery],
        ok=s.GraphSerializer,
        not_found=False,
        examples=[
            response_example(
                "Around one node",
                value={
                    "directed": True,
                    "multigraph": True,
                    "graph": {"width": 1600.0, "height": 1000.0, "version": "c7432340f00e"},
                    "nodes": [
                        {
                            "id": "ddim",
                            "slug": "ddim",
                            "kind": "method",
                            "title": "DDIM",
                            "summary": "Deterministic sampler for DDPM-trained models.",
                            "families": ["diffusion"],
                            "order": 0,
                            "aliases": [],
                            "x": 812.3,
                            "y": 455.0,
                        }
                    ],
                    "links": [
                        {
                            "source": "ddim",
                            "target": "ddpm",
                            "key": "variant_of",
                            "kind": "variant_of",
                            "text": "",
                            "style": "solid",
                        }
                    ],
                },
            )
        ],
    )
)
class GraphViewSet(DocumentAPIView):
    """The knowledge graph in networkx node-link form."""

    query_serializers = {"list": filters.GraphQuery}

    def document(self, query: dict[str, Any]) -> dict[str, Any]:
        around = query.get("around")
        if around is None:
            return graph.node_link(graph.get_graph())
        try:
            return graph.node_link(graph.subgraph(around, query["depth"]))
        except KeyError:
            raise ValidationError({"around": [unknown_node(around)]}) from None


@extend_schema_view(
    list=read_operation(
        summary="Explained paths between two nodes",
        description=(
            "Up to `k` shortest paths from `from` to `to`, cheapest first, each hop with the relation in "
            "words. Hops are weighted: typed relations cost less than loose ones (`related`, `cites`) and "
            "hubs cost more to pass through, so a longer specific path can come before a shorter vague one; "
            "the decision guide and tours are never passed through. `paths` is empty when the two are not "
            "connected; a node to itself is one path of length 0."
        ),
        parameters=[filters.PathQuery],
        ok=s.PathsSerializer,
        not_found=False,
        examples=[
            response_example(
                "VAE to diffusion",
                value={
                    "source": {"slug": "vae", "kind": "family", "title": "Variational autoencoders"},
                    "target": {"slug": "diffusion", "kind": "family", "title": "Diffusion models"},
                    "paths": [
                        {
                            "length": 1,
                            "nodes": ["vae", "diffusion"],
                            "hops": [
                                {
                                    "from": "vae",
                                    "to": "diffusion",
                                    "kind": "lineage",
                                    "text": "a diffusion model is a deep hierarchical VAE",
                                    "direction": "forward",
                                }
                            ],
                        }
                    ],
                },
            )
        ],
    )
)
class PathViewSet(DocumentAPIView):
    """Shortest explained paths through the knowledge graph."""

    query_serializers = {"list": filters.PathQuery}

    def document(self, query: dict[str, Any]) -> dict[str, Any]:
        source, target = query["from"], query["to"]
        ends = queries.path_ends(source, target)
        return {
            "source": s.NodeRefSerializer(ends[source]).data,
            "target": s.NodeRefSerializer(ends[target]).data,
            "paths": queries.paths(source, target, query["k"]),
        }


# --- Lenses ------------------------------------------------------------------------------------


@extend_schema_view(
    list=read_operation(
        summary="Comparison tables",
        description=(
            "The three lenses and the comparison axes as data: one table per lens, one row per family "
            "(plus variant rows), lenses first, then axes, each by display order."
        ),
        parameters=[filters.LensQuery],
        ok=s.LensSerializer(many=True),
    ),
    retrieve=read_operation(
        summary="One comparison table",
        parameters=[
            filters.LensDetailQuery,
            OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Slug of the lens or axis."),
        ],
        ok=s.LensSerializer,
        examples=[
            response_example(
                "One row of the divergence lens",
                value={
                    "slug": "divergence",
                    "kind": "lens",
                    "title": "Divergence",
                    "summary": "Which discrepancy each family minimises.",
                    "summary_html": "Which discrepancy each family minimises.",
                    "order": 1,
                    "url": "/api/lenses/divergence/",
                    "node_url": "/api/nodes/divergence/",
                    "rows": [
                        {
                            "family": "vae",
                            "family_title": "Variational autoencoders",
                            "variant": None,
                            "text": "Forward KL through the ELBO.",
                            "text_html": "Forward KL through the ELBO.",
                            "facets": ["forward-kl"],
                            "papers": ["kingma2014vae"],
                        }
                    ],
                },
            )
        ],
    ),
)
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


# --- Papers ------------------------------------------------------------------------------------

BIBTEX_RESPONSE = OpenApiResponse(
    OpenApiTypes.STR, description="BibTeX (`Accept: application/x-bibtex` or `?format=bibtex`)."
)
FORMAT_PARAM = OpenApiParameter(
    "format",
    str,
    enum=["json", "bibtex"],
    description="Representation: `json` (default) or `bibtex`; the same as `Accept: application/x-bibtex`.",
)


def _json_or_bibtex(json_answer: Any) -> dict[tuple[int, str], Any]:
    return {(200, "application/json"): json_answer, (200, "application/x-bibtex"): BIBTEX_RESPONSE}


@extend_schema_view(
    list=read_operation(
        summary="List papers (JSON or BibTeX)",
        description=(
            "Papers behind the atlas's claims, filtered by year, citing node, author or text. As JSON the "
            "list is paginated; as BibTeX it is one .bib file of every paper that matches (or of one page, "
            "when `page` or `page_size` is given), in the same order."
        ),
        parameters=[filters.PaperQuery, FORMAT_PARAM],
        ok=_json_or_bibtex(s.PaperSerializer(many=True)),
        examples=[
            response_example(
                "BibTeX of 2020 papers",
                media_type="application/x-bibtex",
                value=(
                    "@inproceedings{ho2020ddpm,\n  title = {{Denoising Diffusion Probabilistic Models}},\n"
                    "  author = {Ho, Jonathan and Jain, Ajay and Abbeel, Pieter},\n  booktitle = {NeurIPS},\n"
                    "  year = {2020},\n  eprint = {2006.11239},\n  archivePrefix = {arXiv}\n}\n"
                ),
            )
        ],
    ),
    retrieve=read_operation(
        summary="One paper (JSON or BibTeX)",
        parameters=[
            OpenApiParameter(
                "key", str, OpenApiParameter.PATH, description="Key of the paper, e.g. `ho2020ddpm`."
            ),
            FORMAT_PARAM,
        ],
        ok=_json_or_bibtex(s.PaperSerializer),
    ),
)
class PaperViewSet(ListAPIView):
    """Papers, technical reports and other resources cited by the atlas; BibTeX on request."""

    lookup_field = "key"
    lookup_value_regex = "[^/]+"
    serializer_class = s.PaperSerializer
    query_serializers = {"list": filters.PaperQuery}
    renderer_classes = [JSONRenderer, BibTeXRenderer, BrowsableAPIRenderer]

    def get_queryset(self) -> QuerySet[Paper]:
        return queries.paper_records()

    def select(self, query: dict[str, Any]) -> QuerySet[Paper]:
        return queries.papers(query)

    def _wants_bibtex(self) -> bool:
        return isinstance(self.request.accepted_renderer, BibTeXRenderer)

    def list(self, request: Request) -> Response:
        if not self._wants_bibtex():
            return super().list(request)
        # One .bib file of every match, unless a page was asked for explicitly.
        papers = self.select(self.query())
        paginated = any(name in request.query_params for name in AtlasPagination.query_params)
        chosen = self.paginate_queryset(papers) if paginated else list(papers)
        text = bibtex_for(chosen) or "% No paper of the Generative Atlas matches these filters.\n"
        return self._bibtex(text, "papers.bib")

    def retrieve(self, request: Request, key: str | None = None) -> Response:
        self.query()
        paper = self.find(queries.paper_records(), PAPER_KEY_RE, key=key)
        if paper is None:
            raise NotFound(f"No paper with key {key!r}.")
        if self._wants_bibtex():
            return self._bibtex(paper.bibtex(), f"{paper.key}.bib")
        return Response(s.PaperSerializer(paper).data)

    @staticmethod
    def _bibtex(text: str, filename: str) -> Response:
        return Response(text, headers={"Content-Disposition": f'inline; filename="{filename}"'})


# --- Results -----------------------------------------------------------------------------------


@extend_schema_view(
    list=read_operation(
        summary="Best and latest results",
        description=(
            "For every (recipe, dataset) with succeeded runs: the best run by one metric and the latest one, "
            "ordered by recipe then dataset. Only succeeded runs count."
        ),
        parameters=[filters.ResultQuery],
        ok=s.ResultGroupSerializer(many=True),
    ),
    compare=read_operation(
        summary="Cross-family comparison on one dataset",
        description=(
            "The best succeeded run of every family on `dataset`, ranked by one metric shared by all "
            "(with `auto`, chosen once for the whole dataset); families without results are listed apart."
        ),
        parameters=[filters.ComparisonQuery],
        ok=s.ComparisonSerializer,
        not_found=False,
        examples=[
            response_example(
                "Ring of eight Gaussians",
                value={
                    "dataset": "ring8",
                    "metric": "sliced_wasserstein",
                    "better": "lower",
                    "entries": [],
                    "missing_families": ["vae", "gan", "diffusion", "flow", "ebm", "autoregressive"],
                },
            )
        ],
    ),
)
class ResultViewSet(ListAPIView):
    """Results of succeeded runs: per recipe and dataset, and across families."""

    serializer_class = s.ResultGroupSerializer
    query_serializers = {"list": filters.ResultQuery, "compare": filters.ComparisonQuery}

    def get_version(self) -> tuple[str, datetime | None]:
        return board.results_version()

    def get_queryset(self) -> QuerySet[Run]:
        return Run.objects.none()

    def select(self, query: dict[str, Any]) -> list[board.Group]:
        return board.best_and_latest(
            recipe=query.get("recipe"),
            dataset=query.get("dataset"),
            family=query.get("family"),
            metric=query["metric"],
        )

    @action(detail=False, methods=["get"], pagination_class=None)
    def compare(self, request: Request) -> Response:
        query = self.query()
        comparison = board.compare(query["dataset"], query["metric"])
        metric = comparison.metric
        body = {
            "dataset": comparison.dataset,
            "metric": metric.key if metric else "",
            "better": metric.better if metric else None,
            "entries": [
                {
                    "rank": rank,
                    "family": scored.run.family,
                    "runs": count,
                    "best": s.RunResultSerializer(scored).data,
                }
                for rank, scored, count in comparison.entries
            ],
            "missing_families": comparison.missing,
        }
        return Response(body)


# --- Guide -------------------------------------------------------------------------------------


@extend_schema_view(
    list=read_operation(
        summary="The decision guide",
        description="The whole question tree: root question id, every question with its answers, each leaf.",
        ok=s.GuideTreeSerializer,
    ),
    answer=read_operation(
        summary="Walk the decision guide",
        description=(
            "Answers given so far in, the next question or the recommendation (with its reasoning) out. "
            "GET, so that every state of the wizard has a URL: `?answers=goal:modality,modality:text`. Each "
            "answer is its stable id (the id of the question or leaf it leads to) or its 0-based index, "
            "optionally prefixed with the question id; an answer that does not fit is a 400 naming it."
        ),
        parameters=[
            OpenApiParameter(
                "answers",
                {"type": "string", "maxLength": 2000, "pattern": r"^[^\u0000]*$"},
                description=filters.GuideAnswerQuery().fields["answers"].help_text,
            ),
        ],
        ok=s.GuideStateSerializer,
        examples=[
            response_example(
                "Recommendation reached",
                value={
                    "done": True,
                    "answers": ["goal:likelihood", "likelihood:exact-likelihood"],
                    "path": [
                        {
                            "question": "goal",
                            "question_text": "What is the primary goal?",
                            "answer": "likelihood",
                            "index": 0,
                            "label": "Density estimation, OOD detection or compression",
                        },
                        {
                            "question": "likelihood",
                            "question_text": "Do you need a tractable, exact likelihood?",
                            "answer": "exact-likelihood",
                            "index": 0,
                            "label": "Yes, exact",
                        },
                    ],
                    "question": None,
                    "leaf": {
                        "id": "exact-likelihood",
                        "title": "Classical flow or autoregressive model",
                        "why": "Both give exact likelihood by construction.",
                        "why_html": "Both give exact likelihood by construction.",
                        "recommends": ["realnvp", "autoregressive"],
                        "watch_out": ["ood-likelihood"],
                        "recipe": "realnvp",
                    },
                    "recommends": [
                        {
                            "slug": "realnvp",
                            "kind": "method",
                            "title": "RealNVP",
                            "summary": "Affine coupling flow.",
                            "url": "/api/nodes/realnvp/",
                        }
                    ],
                    "watch_out": [],
                    "recipes": [],
                    "reasons": [
                        "What is the primary goal? Density estimation, OOD detection or compression.",
                        "Do you need a tractable, exact likelihood? Yes, exact.",
                        "Both give exact likelihood by construction.",
                    ],
                },
            )
        ],
    ),
)
class GuideViewSet(DocumentAPIView):
    """The decision guide from content, and a walk through it."""

    query_serializers = {"answer": filters.GuideAnswerQuery}

    def _tree(self) -> guide.Tree:
        try:
            return guide.load_tree()
        except guide.GuideMissing as exc:
            raise NotFound(str(exc)) from None

    def document(self, query: dict[str, Any]) -> dict[str, Any]:
        return s.GuideTreeSerializer(self._tree()).data

    @action(detail=False, methods=["get"])
    def answer(self, request: Request) -> Response:
        query = self.query()
        tree = self._tree()
        try:
            state = guide.walk(guide.parse_answers(query.get("answers")), tree)
        except guide.InvalidAnswer as exc:
            raise ValidationError({"answers": [str(exc)]}) from None
        body = {
            "done": state.done,
            "answers": state.answers,
            "path": s.GuideStepSerializer(state.path, many=True).data,
            "question": s.GuideQuestionSerializer(state.question).data if state.question else None,
            "leaf": s.GuideLeafSerializer(state.leaf).data if state.leaf else None,
            "recommends": s.GuideNodeSerializer(state.recommends, many=True).data,
            "watch_out": s.GuideNodeSerializer(state.watch_out, many=True).data,
            "recipes": state.recipes,
            "reasons": state.reasons,
        }
        return Response(body)
