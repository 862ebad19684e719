"""The results read API (best and latest results, cross-family comparison).

It stays here, as it was, while the results API is being rewritten (atlas/results); every other
read endpoint lives with its app (`atlas/<app>/api.py`) on the base classes of `atlas.api.base`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from atlas.api import filters
from atlas.api import serializers as s
from atlas.api.api_schema import read_operation, response_example
from atlas.api.base import ListAPIView
from atlas.runs import board
from atlas.runs.models import Run

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
