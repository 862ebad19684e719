"""The read API: parse the query, ask the models or a service, serialize.

Everything here is GET-only and public. Lists are paginated (`count`/`next` reach the end; a
unique key ends every ordering), every parameter is declared (unknown, repeated or malformed ones
are 400s naming them), and responses carry content-derived ETag / Last-Modified validators
(conditional GETs get 304s). Graph algorithms live in `atlas.graph.services`, the decision guide
in `atlas.guide.services`, results queries in `atlas.api.results`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
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

from atlas.api import filters, results
from atlas.api import serializers as s
from atlas.api.conditional import ConditionalMixin
from atlas.api.pagination import AtlasPagination
from atlas.api.renderers import BibTeXRenderer
from atlas.graph import services as graph
from atlas.graph.models import Edge, LensValue, Node, NodeKind, NodePaper
from atlas.guide import services as guide
from atlas.papers.bibtex import bibtex_for
from atlas.papers.models import Paper
from atlas.runs.models import Run

SLUG_RE = re.compile(filters.SLUG_PATTERN)
PAPER_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LENS_KINDS = (NodeKind.LENS, NodeKind.AXIS)

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


def _unknown_node(slug: str) -> str:
    return f"No node with slug {slug!r}."


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


class DocumentSchema(AutoSchema):
    """For views whose `list` action answers one document (the graph, paths, the guide), not a list."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


def _existing_slug(name: str, slug: str | None) -> None:
    if slug and not Node.objects.filter(slug=slug).exists():
        raise ValidationError({name: [_unknown_node(slug)]})


def _words(text: str) -> list[str]:
    return [word for word in _fold(text).split() if word]


def _fold(text: str) -> str:
    """Case- and accent-insensitive form for searching: `Müller` → `muller`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# --- Nodes -------------------------------------------------------------------------------------

NODE_ORDERINGS = {
    "kind": ("kind", "order", "slug"),
    "-kind": ("-kind", "order", "slug"),
    "slug": ("slug",),
    "-slug": ("-slug",),
    "title": ("title", "slug"),
    "-title": ("-title", "slug"),
    "order": ("order", "slug"),
    "-order": ("-order", "slug"),
}


@extend_schema_view(
    list=extend_schema(
        summary="List nodes",
        description="Every node of the map, filtered by kind, family or text, paginated.",
        parameters=[filters.NodeQuery, *CACHE_HEADERS],
        responses={200: s.NodeSerializer(many=True), 400: FIELD_ERRORS, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "One method",
                response_only=True,
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
    retrieve=extend_schema(
        summary="One node with its typed edges",
        description="A node with its body, data, cited papers, runnable recipes and every edge touching it.",
        parameters=[
            OpenApiParameter(
                "slug", str, OpenApiParameter.PATH, description="Slug of the node, e.g. `ddpm`."
            ),
            *CACHE_HEADERS,
        ],
        responses={200: s.NodeDetailSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
    ),
)
class NodeViewSet(ReadOnlyAPIView, viewsets.GenericViewSet):
    """Nodes of the knowledge map: families, methods, lenses, failure modes, essays, ..."""

    pagination_class = AtlasPagination
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    serializer_class = s.NodeSerializer
    query_serializers = {"list": filters.NodeQuery}

    def get_queryset(self) -> QuerySet[Node]:
        return Node.objects.all()

    def list(self, request: Request) -> Response:
        query = self.query()
        nodes = Node.objects.defer(
            "body_md", "body_html", "search_text", "equation", "equation_html", "figures"
        )
        if query.get("kind"):
            nodes = nodes.filter(kind=query["kind"])
        for word in _words(query.get("q", "")):
            nodes = nodes.filter(search_text__contains=word)
        if query.get("family"):
            family = query["family"]
            ids = [pk for pk, names in nodes.values_list("id", "families") if family in names]
            nodes = nodes.filter(id__in=ids)
        nodes = nodes.order_by(*NODE_ORDERINGS[query["ordering"]])
        page = self.paginate_queryset(nodes)
        return self.get_paginated_response(s.NodeSerializer(page, many=True).data)

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        self.query()
        if not slug or not SLUG_RE.fullmatch(slug):
            raise NotFound(_unknown_node(slug or ""))
        node = (
            Node.objects.filter(slug=slug)
            .prefetch_related(
                Prefetch("citations", NodePaper.objects.select_related("paper").order_by("position")),
                Prefetch("out_edges", Edge.objects.select_related("target")),
                Prefetch("in_edges", Edge.objects.select_related("source")),
            )
            .first()
        )
        if node is None:
            raise NotFound(_unknown_node(slug))
        return Response(s.NodeDetailSerializer(node).data)


# --- Edges -------------------------------------------------------------------------------------

EDGE_ORDERINGS = {
    "source": ("source__slug", "kind", "target__slug"),
    "-source": ("-source__slug", "kind", "target__slug"),
    "target": ("target__slug", "kind", "source__slug"),
    "-target": ("-target__slug", "kind", "source__slug"),
    "kind": ("kind", "source__slug", "target__slug"),
    "-kind": ("-kind", "source__slug", "target__slug"),
}


@extend_schema_view(
    list=extend_schema(
        summary="List edges",
        description="Typed, directed edges of the map, filtered by kind and by the nodes they touch.",
        parameters=[filters.EdgeQuery, *CACHE_HEADERS],
        responses={200: s.EdgeSerializer(many=True), 400: FIELD_ERRORS, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "A fix",
                response_only=True,
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
class EdgeViewSet(ReadOnlyAPIView, viewsets.GenericViewSet):
    """Edges between nodes (lineage, unifies, variant_of, fixes, suffers_from, ...)."""

    pagination_class = AtlasPagination
    serializer_class = s.EdgeSerializer
    query_serializers = {"list": filters.EdgeQuery}

    def get_queryset(self) -> QuerySet[Edge]:
        return Edge.objects.all()

    def list(self, request: Request) -> Response:
        query = self.query()
        for name in ("source", "target", "node"):
            _existing_slug(name, query.get(name))
        edges = Edge.objects.select_related("source", "target").only(
            "kind", "text", "style", "origin", "source__slug", "target__slug"
        )
        if query.get("kind"):
            edges = edges.filter(kind=query["kind"])
        if query.get("source"):
            edges = edges.filter(source__slug=query["source"])
        if query.get("target"):
            edges = edges.filter(target__slug=query["target"])
        if query.get("node"):
            node_id = Node.objects.get(slug=query["node"]).id
            edges = edges.filter(source_id=node_id) | edges.filter(target_id=node_id)
        edges = edges.order_by(*EDGE_ORDERINGS[query["ordering"]])
        page = self.paginate_queryset(edges)
        return self.get_paginated_response(s.EdgeSerializer(page, many=True).data)


# --- Graph and paths ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="The map as a graph",
        description=(
            "The whole knowledge graph, or the subgraph within `depth` hops of `around` (edges in either "
            "direction), as networkx node-link JSON (`nodes`, `links`) with layout positions. Not paginated: "
            "one document."
        ),
        parameters=[filters.GraphQuery, *CACHE_HEADERS],
        responses={200: s.GraphSerializer, 400: FIELD_ERRORS},
        examples=[
            OpenApiExample(
                "Around one node",
                response_only=True,
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
class GraphViewSet(ReadOnlyAPIView, viewsets.ViewSet):
    """The knowledge graph in networkx node-link form."""

    schema = DocumentSchema()

    query_serializers = {"list": filters.GraphQuery}

    def list(self, request: Request) -> Response:
        query = self.query()
        around = query.get("around")
        if around is None:
            return Response(graph.node_link(graph.get_graph()))
        try:
            sub = graph.subgraph(around, query["depth"])
        except KeyError:
            raise ValidationError({"around": [_unknown_node(around)]}) from None
        return Response(graph.node_link(sub))


@extend_schema_view(
    list=extend_schema(
        summary="Explained paths between two nodes",
        description=(
            "Up to `k` shortest paths from `from` to `to`, cheapest first, each hop with the relation in "
            "words. Hops are weighted: typed relations cost less than loose ones (`related`, `cites`) and "
            "hubs cost more to pass through, so a longer specific path can come before a shorter vague one; "
            "the decision guide and tours are never passed through. `paths` is empty when the two are not "
            "connected; a node to itself is one path of length 0."
        ),
        parameters=[filters.PathQuery, *CACHE_HEADERS],
        responses={200: s.PathsSerializer, 400: FIELD_ERRORS},
        examples=[
            OpenApiExample(
                "VAE to diffusion",
                response_only=True,
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
class PathViewSet(ReadOnlyAPIView, viewsets.ViewSet):
    """Shortest explained paths through the knowledge graph."""

    schema = DocumentSchema()

    query_serializers = {"list": filters.PathQuery}

    def list(self, request: Request) -> Response:
        query = self.query()
        source, target = query["from"], query["to"]
        refs = {
            n.slug: n for n in Node.objects.filter(slug__in=[source, target]).only("slug", "kind", "title")
        }
        errors = {
            name: [_unknown_node(slug)]
            for name, slug in (("from", source), ("to", target))
            if slug not in refs
        }
        if errors:
            raise ValidationError(errors)
        if source == target:
            paths = [{"length": 0, "nodes": [source], "hops": []}]
        else:
            try:
                found = graph.explained_paths(source, target, k=query["k"])
            except KeyError as exc:  # the graph lags the tables only between a load and its cache refresh
                raise ValidationError(
                    {"from" if exc.args[0] == source else "to": [_unknown_node(exc.args[0])]}
                ) from None
            paths = [
                {"length": len(hops), "nodes": [source, *(hop["to"] for hop in hops)], "hops": hops}
                for hops in found
            ]
        body = {
            "source": s.NodeRefSerializer(refs[source]).data,
            "target": s.NodeRefSerializer(refs[target]).data,
            "paths": paths,
        }
        return Response(body)


# --- Lenses ------------------------------------------------------------------------------------


def _lens_queryset() -> QuerySet[Node]:
    values = LensValue.objects.select_related("family").prefetch_related("papers")
    return (
        Node.objects.filter(kind__in=LENS_KINDS)
        .only("slug", "kind", "title", "summary", "order", "data")
        .prefetch_related(Prefetch("lens_values", values))
    )


@extend_schema_view(
    list=extend_schema(
        summary="Comparison tables",
        description=(
            "The three lenses and the comparison axes as data: one table per lens, one row per family "
            "(plus variant rows), lenses first, then axes, each by display order."
        ),
        parameters=[filters.LensQuery, *CACHE_HEADERS],
        responses={200: s.LensSerializer(many=True), 400: FIELD_ERRORS, 404: NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="One comparison table",
        parameters=[
            filters.LensDetailQuery,
            OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Slug of the lens or axis."),
            *CACHE_HEADERS,
        ],
        responses={200: s.LensSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "One row of the divergence lens",
                response_only=True,
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
class LensViewSet(ReadOnlyAPIView, viewsets.GenericViewSet):
    """Lenses and comparison axes: how every family answers one question."""

    pagination_class = AtlasPagination
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    serializer_class = s.LensSerializer
    query_serializers = {"list": filters.LensQuery, "retrieve": filters.LensDetailQuery}

    def get_queryset(self) -> QuerySet[Node]:
        return _lens_queryset()

    def list(self, request: Request) -> Response:
        query = self.query()
        lenses = _lens_queryset()
        if query.get("kind"):
            lenses = lenses.filter(kind=query["kind"])
        if query.get("facet"):
            facet = query["facet"]
            ids = {
                lens_id
                for lens_id, tags in LensValue.objects.filter(lens__kind__in=LENS_KINDS).values_list(
                    "lens_id", "facets"
                )
                if facet in tags
            }
            lenses = lenses.filter(id__in=ids)
        page = self.paginate_queryset(lenses.order_by("kind", "order", "slug"))
        data = s.LensSerializer(page, many=True, context={"family": query.get("family")}).data
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        query = self.query()
        lens = _lens_queryset().filter(slug=slug).first() if slug and SLUG_RE.fullmatch(slug) else None
        if lens is None:
            raise NotFound(f"No lens or axis with slug {slug!r}.")
        return Response(s.LensSerializer(lens, context={"family": query.get("family")}).data)


# --- Papers ------------------------------------------------------------------------------------

PAPER_ORDERINGS = {
    "key": ("key",),
    "-key": ("-key",),
    "year": ("year", "key"),
    "-year": ("-year", "key"),
    "title": ("title", "key"),
    "-title": ("-title", "key"),
}
BIBTEX_RESPONSE = OpenApiResponse(
    OpenApiTypes.STR, description="BibTeX (`Accept: application/x-bibtex` or `?format=bibtex`)."
)
FORMAT_PARAM = OpenApiParameter(
    "format",
    str,
    enum=["json", "bibtex"],
    description="Representation: `json` (default) or `bibtex`; the same as `Accept: application/x-bibtex`.",
)


def _papers_queryset() -> QuerySet[Paper]:
    return Paper.objects.prefetch_related(
        Prefetch("citations", NodePaper.objects.select_related("node").only("id", "paper_id", "node__slug"))
    )


@extend_schema_view(
    list=extend_schema(
        summary="List papers (JSON or BibTeX)",
        description=(
            "Papers behind the atlas's claims, filtered by year, citing node, author or text. As JSON the "
            "list is paginated; as BibTeX it is one .bib file of every paper that matches (or of one page, "
            "when `page` or `page_size` is given), in the same order."
        ),
        parameters=[filters.PaperQuery, FORMAT_PARAM, *CACHE_HEADERS],
        responses={
            (200, "application/json"): s.PaperSerializer(many=True),
            (200, "application/x-bibtex"): BIBTEX_RESPONSE,
            400: FIELD_ERRORS,
            404: NOT_FOUND,
        },
        examples=[
            OpenApiExample(
                "BibTeX of 2020 papers",
                response_only=True,
                media_type="application/x-bibtex",
                value=(
                    "@inproceedings{ho2020ddpm,\n  title = {{Denoising Diffusion Probabilistic Models}},\n"
                    "  author = {Ho, Jonathan and Jain, Ajay and Abbeel, Pieter},\n  booktitle = {NeurIPS},\n"
                    "  year = {2020},\n  eprint = {2006.11239},\n  archivePrefix = {arXiv}\n}\n"
                ),
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One paper (JSON or BibTeX)",
        parameters=[
            OpenApiParameter(
                "key", str, OpenApiParameter.PATH, description="Key of the paper, e.g. `ho2020ddpm`."
            ),
            FORMAT_PARAM,
            *CACHE_HEADERS,
        ],
        responses={
            (200, "application/json"): s.PaperSerializer,
            (200, "application/x-bibtex"): BIBTEX_RESPONSE,
            400: FIELD_ERRORS,
            404: NOT_FOUND,
        },
    ),
)
class PaperViewSet(ReadOnlyAPIView, viewsets.GenericViewSet):
    """Papers, technical reports and other resources cited by the atlas; BibTeX on request."""

    pagination_class = AtlasPagination
    lookup_field = "key"
    lookup_value_regex = "[^/]+"
    serializer_class = s.PaperSerializer
    query_serializers = {"list": filters.PaperQuery}
    renderer_classes = [JSONRenderer, BibTeXRenderer, BrowsableAPIRenderer]

    def get_queryset(self) -> QuerySet[Paper]:
        return _papers_queryset()

    def _wants_bibtex(self) -> bool:
        return isinstance(self.request.accepted_renderer, BibTeXRenderer)

    def list(self, request: Request) -> Response:
        query = self.query()
        papers = _papers_queryset()
        if query.get("node"):
            _existing_slug("node", query["node"])
            papers = papers.filter(citations__node__slug=query["node"])
        if query.get("year") is not None:
            papers = papers.filter(year=query["year"])
        if query.get("year_min") is not None:
            papers = papers.filter(year__gte=query["year_min"])
        if query.get("year_max") is not None:
            papers = papers.filter(year__lte=query["year_max"])
        author, words = _fold(query.get("author", "")), _words(query.get("q", ""))
        if author or words:
            ids = []
            for pk, key, title, venue, note, authors in papers.values_list(
                "id", "key", "title", "venue", "note", "authors"
            ):
                if author and not any(author in _fold(name) for name in authors):
                    continue
                haystack = _fold(" ".join([key, title, venue, note, *authors]))
                if all(word in haystack for word in words):
                    ids.append(pk)
            papers = papers.filter(id__in=ids)
        papers = papers.order_by(*PAPER_ORDERINGS[query["ordering"]])
        if self._wants_bibtex():
            paginated = any(name in request.query_params for name in AtlasPagination.query_params)
            chosen = self.paginate_queryset(papers) if paginated else list(papers)
            text = bibtex_for(chosen) or "% No paper of the Generative Atlas matches these filters.\n"
            return self._bibtex(text, "papers.bib")
        page = self.paginate_queryset(papers)
        return self.get_paginated_response(s.PaperSerializer(page, many=True).data)

    def retrieve(self, request: Request, key: str | None = None) -> Response:
        self.query()
        paper = _papers_queryset().filter(key=key).first() if key and PAPER_KEY_RE.fullmatch(key) else None
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
    list=extend_schema(
        summary="Best and latest results",
        description=(
            "For every (recipe, dataset) with succeeded runs: the best run by one metric and the latest one, "
            "ordered by recipe then dataset. Only succeeded runs count."
        ),
        parameters=[filters.ResultQuery, *CACHE_HEADERS],
        responses={200: s.ResultGroupSerializer(many=True), 400: FIELD_ERRORS, 404: NOT_FOUND},
    ),
    compare=extend_schema(
        summary="Cross-family comparison on one dataset",
        description=(
            "The best succeeded run of every family on `dataset`, ranked by one metric shared by all "
            "(with `auto`, chosen once for the whole dataset); families without results are listed apart."
        ),
        parameters=[filters.ComparisonQuery, *CACHE_HEADERS],
        responses={200: s.ComparisonSerializer, 400: FIELD_ERRORS},
        examples=[
            OpenApiExample(
                "Ring of eight Gaussians",
                response_only=True,
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
class ResultViewSet(ReadOnlyAPIView, viewsets.GenericViewSet):
    """Results of succeeded runs: per recipe and dataset, and across families."""

    pagination_class = AtlasPagination
    serializer_class = s.ResultGroupSerializer
    query_serializers = {"list": filters.ResultQuery, "compare": filters.ComparisonQuery}

    def get_version(self) -> tuple[str, datetime | None]:
        return results.version()

    def get_queryset(self) -> QuerySet[Run]:
        return Run.objects.none()

    def list(self, request: Request) -> Response:
        query = self.query()
        groups = results.best_and_latest(
            recipe=query.get("recipe"),
            dataset=query.get("dataset"),
            family=query.get("family"),
            metric=query["metric"],
        )
        page = self.paginate_queryset(groups)
        return self.get_paginated_response(s.ResultGroupSerializer(page, many=True).data)

    @action(detail=False, methods=["get"], pagination_class=None)
    def compare(self, request: Request) -> Response:
        query = self.query()
        comparison = results.compare(query["dataset"], query["metric"])
        metric = results.METRICS.get(comparison.metric_name)
        body = {
            "dataset": comparison.dataset,
            "metric": comparison.metric_name,
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
    list=extend_schema(
        summary="The decision guide",
        description="The whole question tree: root question id, every question with its answers, each leaf.",
        parameters=CACHE_HEADERS,
        responses={200: s.GuideTreeSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
    ),
    answer=extend_schema(
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
            *CACHE_HEADERS,
        ],
        responses={200: s.GuideStateSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "Recommendation reached",
                response_only=True,
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
class GuideViewSet(ReadOnlyAPIView, viewsets.ViewSet):
    """The decision guide from content, and a walk through it."""

    schema = DocumentSchema()

    query_serializers = {"answer": filters.GuideAnswerQuery}

    def _tree(self) -> guide.Tree:
        try:
            return guide.load_tree()
        except guide.GuideMissing as exc:
            raise NotFound(str(exc)) from None

    def list(self, request: Request) -> Response:
        self.query()
        return Response(s.GuideTreeSerializer(self._tree()).data)

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
