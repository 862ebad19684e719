"""The OpenAPI declarations of the graph app's endpoints (nodes, edges, graph, paths, lenses):
summaries, parameters, answers and examples. `atlas.graph.api` applies them by name."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema_view

from atlas.api import filters
from atlas.api.api_schema import read_operation, response_example
from atlas.graph import serializers as s

NODES = extend_schema_view(
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

EDGES = extend_schema_view(
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

GRAPH = extend_schema_view(
    get=read_operation(
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

PATHS = extend_schema_view(
    get=read_operation(
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

LENSES = extend_schema_view(
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
