"""REST endpoints of runs and recipes: parse input, call runs.services, serialize the result."""

from __future__ import annotations

import hashlib

from django.http import Http404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from atlas.api.filters import SlugParamField, parse_query
from atlas.api.pagination import AtlasPagination
from atlas.runs import recipes, services
from atlas.runs.models import Run, RunStatus
from atlas.runs.serializers import (
    RecipeSerializer,
    RunCreateSerializer,
    RunListSerializer,
    RunSerializer,
    run_request_schema,
)


def client_key(request: Request) -> str:
    """Who asks, for the per-client cap: the user when logged in, else a hash of the address."""
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    address = request.META.get("REMOTE_ADDR", "")
    return "ip:" + hashlib.sha256(address.encode()).hexdigest()[:32]


class RunThrottle(ScopedRateThrottle):
    """POST /api/runs/ only; the cache behind it is Redis, shared by every web process."""

    def allow_request(self, request, view) -> bool:
        return request.method != "POST" or super().allow_request(request, view)


class RunQuery(serializers.Serializer):
    """Filters of the runs list; anything else in the query string is a 400 naming it."""

    recipe = SlugParamField(required=False, help_text="only runs of this recipe")
    family = serializers.ChoiceField(
        choices=["vae", "gan", "diffusion", "flow", "ebm", "autoregressive"],
        required=False,
        help_text="only runs of models of this family",
    )
    dataset = SlugParamField(required=False, help_text="only runs on this dataset")
    status = serializers.ChoiceField(
        choices=RunStatus.values, required=False, help_text="only runs in this state"
    )
    model = SlugParamField(required=False, help_text="only runs of this compute model")


BAD_QUERY = OpenApiResponse(description="unknown or invalid query parameters, keyed by name")
NOT_FOUND = OpenApiResponse(description="no such run or recipe (or a page past the last one)")


@extend_schema(tags=["runs"])
@extend_schema_view(retrieve=extend_schema(responses={200: RunSerializer, 404: NOT_FOUND}))
class RunViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Runs of recipes: create one (anonymous, throttled), follow its progress, cancel it."""

    lookup_field = "public_id"
    throttle_classes = [RunThrottle]
    throttle_scope = "runs"
    pagination_class = AtlasPagination

    def get_queryset(self):
        queryset = Run.objects.all()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("events")
        if self.action == "list":
            queryset = queryset.filter(
                **parse_query(self.request, RunQuery, extra=AtlasPagination.query_params)
            )
        return queryset.order_by("-created_at", "-id")

    def get_serializer_class(self):
        return {"list": RunListSerializer, "create": RunCreateSerializer}.get(self.action, RunSerializer)

    @extend_schema(
        parameters=[RunQuery],
        responses={200: RunListSerializer(many=True), 400: BAD_QUERY, 404: NOT_FOUND},
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request={"application/json": run_request_schema()},
        responses={
            201: RunSerializer,
            200: OpenApiResponse(RunSerializer, description="an identical run already exists"),
            400: OpenApiResponse(description="field-keyed errors"),
            429: OpenApiResponse(description="too many runs"),
            503: OpenApiResponse(description="workers busy"),
        },
        examples=[
            OpenApiExample("DDPM on the ring", value={"recipe": "ddpm-2d", "config": {"dataset": "ring8"}})
        ],
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = RunCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            run, created = services.request_run(
                payload.validated_data["recipe"], payload.validated_data["config"], client_key(request)
            )
        except services.RunRequestError as exc:
            raise ValidationError(exc.errors) from exc
        except services.Backpressure as exc:
            return Response(
                {"detail": exc.message}, status=exc.status, headers={"Retry-After": str(exc.retry_after)}
            )
        return Response(
            RunSerializer(run, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=None,
        responses={
            200: RunSerializer,
            404: NOT_FOUND,
            429: OpenApiResponse(description="too many requests (POSTs share the runs throttle)"),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, public_id: str | None = None) -> Response:
        """A queued run never starts; a running one stops within a few seconds."""
        run = services.cancel(self.get_object())
        return Response(RunSerializer(run, context=self.get_serializer_context()).data)


@extend_schema(tags=["recipes"])
class RecipeViewSet(viewsets.ViewSet):
    """The catalogue of runnable demos; each recipe's parameters as JSON Schema (types, defaults, bounds)."""

    lookup_field = "slug"
    serializer_class = RecipeSerializer

    @extend_schema(responses=RecipeSerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response(RecipeSerializer(recipes.RECIPES, many=True).data)

    @extend_schema(
        responses={200: RecipeSerializer, 404: NOT_FOUND},
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH, description="slug of the recipe")],
    )
    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        recipe = _recipe_or_404(slug)
        return Response(RecipeSerializer(recipe).data)


def _recipe_or_404(slug: str | None) -> recipes.Recipe:
    try:
        return recipes.get(slug or "")
    except KeyError:
        raise Http404(f"no recipe {slug!r}") from None
