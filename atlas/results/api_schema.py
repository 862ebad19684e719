"""The OpenAPI declarations of the results endpoints (best and latest results, the cross-family
comparison, score your own): summaries, parameters, answers and examples. `atlas.results.api`
applies them by name."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view

from atlas.api import filters
from atlas.api.api_schema import read_operation, response_example
from atlas.results import serializers as s

RESULTS = extend_schema_view(
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
            "Every family on `dataset` ranked by one metric shared by all (with `auto`, chosen once for the "
            "whole dataset). On a board dataset (ring8, grid25, digits) this is the board's ranking, the "
            "same records and numbers as `/results/<dataset>/`: one entry per board row with every seed "
            "succeeded, ranked by its seed mean (ties share a rank), with `row` giving that mean and std "
            "and `best` the row's best seed run. On any other dataset: the best succeeded run of each "
            "family. `ranked_from` says which; families without an entry are listed apart."
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
                    "ranked_from": "board",
                },
            )
        ],
    ),
)

SCORE = extend_schema(
    summary="Score your own samples",
    description=(
        "Upload samples as a .npy file and get every metric the board's runs report (except "
        "likelihoods, which need a model) and where the samples would rank on that board. "
        "Nothing is stored."
    ),
    request={"multipart/form-data": s.ScoreRequestSerializer},
    responses={
        200: s.ScoreResponseSerializer,
        400: OpenApiResponse(description="a field-keyed message: dataset or samples"),
        413: OpenApiResponse(description="request body too large"),
        429: OpenApiResponse(description="too many requests"),
    },
    auth=[],
)
