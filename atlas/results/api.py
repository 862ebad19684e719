"""The results app's API: /api/results/ (best and latest run per recipe and dataset),
/api/results/compare/ (the board's ranking on a board dataset) and POST /api/results/score/.

Each view parses its query, asks `atlas.results.queries` (or `scoring`) and answers what its
serializer makes of it. Their OpenAPI declarations are in `atlas.results.api_schema`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from atlas.api import filters
from atlas.api.base import ListAPIView
from atlas.results import api_schema as schema
from atlas.results import queries, scoring
from atlas.results import serializers as s
from atlas.runs.models import Run


@schema.RESULTS
class ResultViewSet(ListAPIView):
    """Results of succeeded runs: per recipe and dataset, and across families."""

    serializer_class = s.ResultGroupSerializer
    query_serializers = {"list": filters.ResultQuery, "compare": filters.ComparisonQuery}

    def get_version(self) -> tuple[str, datetime | None]:
        return queries.results_version()

    def get_queryset(self) -> QuerySet[Run]:
        return Run.objects.none()

    def select(self, query: dict[str, Any]) -> list[queries.Group]:
        return queries.best_and_latest(
            recipe=query.get("recipe"),
            dataset=query.get("dataset"),
            family=query.get("family"),
            metric=query["metric"],
        )

    @action(detail=False, methods=["get"], pagination_class=None)
    def compare(self, request: Request) -> Response:
        query = self.query()
        return Response(s.ComparisonSerializer(queries.compare(query["dataset"], query["metric"])).data)


class ScoreView(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "score"

    @schema.SCORE
    def post(self, request: Request) -> Response:
        payload = s.ScoreRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            scored = scoring.score_upload(
                payload.validated_data["dataset"], payload.validated_data["samples"].read()
            )
        except scoring.ScoreError as exc:
            raise ValidationError(exc.errors) from exc
        return Response(s.ScoreResponseSerializer(scored).data, status=status.HTTP_200_OK)
