"""The one DRF router of the site: every resource registers its viewset here."""

from django.urls import path
from rest_framework import routers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from atlas.api import views
from atlas.results.api import ScoreView
from atlas.runs.views import RecipeViewSet, RunViewSet


class AtlasRootView(routers.APIRootView):
    """The Generative Atlas API: its resources, its documentation and its OpenAPI schema."""

    def get(self, request: Request, *args, **kwargs) -> Response:
        response = super().get(request, *args, **kwargs)
        for key, name in (("docs", "api-docs"), ("redoc", "api-redoc"), ("schema", "schema")):
            response.data[key] = reverse(name, request=request, format=kwargs.get("format"))
        return response


class AtlasRouter(routers.DefaultRouter):
    APIRootView = AtlasRootView


router = AtlasRouter()
router.register("nodes", views.NodeViewSet, basename="node")
router.register("edges", views.EdgeViewSet, basename="edge")
router.register("graph", views.GraphViewSet, basename="graph")
router.register("path", views.PathViewSet, basename="path")
router.register("lenses", views.LensViewSet, basename="lens")
router.register("papers", views.PaperViewSet, basename="paper")
router.register("recipes", RecipeViewSet, basename="recipe")
router.register("runs", RunViewSet, basename="run")
router.register("results", views.ResultViewSet, basename="result")
router.register("guide", views.GuideViewSet, basename="guide")

urlpatterns = [path("results/score/", ScoreView.as_view(), name="results-score"), *router.urls]
