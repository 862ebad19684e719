"""POST /api/results/score/: score your own samples with the board's metrics (nothing stored)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from atlas.results import scoring
from atlas.results.serializers import ScoreRequestSerializer, ScoreResponseSerializer


class ScoreView(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "score"

    @extend_schema(
        summary="Score your own samples",
        description=(
            "Upload samples as a .npy file and get every metric the board's runs report (except "
            "likelihoods, which need a model) and where the samples would rank on that board. "
            "Nothing is stored."
        ),
        request={"multipart/form-data": ScoreRequestSerializer},
        responses={
            200: ScoreResponseSerializer,
            400: OpenApiResponse(description="a field-keyed message: dataset or samples"),
            413: OpenApiResponse(description="request body too large"),
            429: OpenApiResponse(description="too many requests"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        payload = ScoreRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            scored = scoring.score_upload(
                payload.validated_data["dataset"], payload.validated_data["samples"].read()
            )
        except scoring.ScoreError as exc:
            raise ValidationError(exc.errors) from exc
        return Response(ScoreResponseSerializer(scored).data, status=status.HTTP_200_OK)
