"""The one DRF router of the site: every app registers its viewsets, and its single documents
(`APIView`s), here."""

from django.urls import path, re_path
from django.urls.resolvers import URLPattern
from rest_framework import routers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.urlpatterns import format_suffix_patterns
from rest_framework.views import APIView

from atlas.graph.api import EdgeViewSet, GraphView, LensViewSet, NodeViewSet, PathView
from atlas.guide.api import GuideTreeView, GuideWalkView
from atlas.papers.api import PaperViewSet
from atlas.results.api import ResultViewSet, ScoreView
from atlas.runs.views import RecipeViewSet, RunViewSet


class AtlasRootView(routers.APIRootView):
    """The Generative Atlas API: its resources, its documentation and its OpenAPI schema."""

    def get(self, request: Request, *args, **kwargs) -> Response:
        response = super().get(request, *args, **kwargs)
        for key, name in (("docs", "api-docs"), ("redoc", "api-redoc"), ("schema", "schema")):
            response.data[key] = reverse(name, request=request, format=kwargs.get("format"))
        return response


class AtlasRouter(routers.DefaultRouter):
    """A DefaultRouter that also routes single documents: `register_document` mounts an APIView at
    `<prefix>/` under the name `<basename>-list`, and the root lists it in registration order
    beside the viewsets."""

    APIRootView = AtlasRootView

    def __init__(self) -> None:
        super().__init__()
        self.documents: list[tuple[str, type[APIView], str]] = []
        self.root_order: list[str] = []

    def register(self, prefix: str, viewset, basename: str | None = None) -> None:
        super().register(prefix, viewset, basename)
        self.root_order.append(prefix)

    def register_document(self, prefix: str, view: type[APIView], basename: str, listed: bool = True) -> None:
        """Mount `view` at `<prefix>/`; `listed`: whether the root links it (a sub-resource is
        reached from its parent's documentation instead)."""
        self.documents.append((prefix, view, basename))
        if listed:
            self.root_order.append(prefix)

    def get_api_root_view(self, api_urls=None):
        names = {
            prefix: self.routes[0].name.format(basename=basename) for prefix, _, basename in self.registry
        }
        names.update({prefix: f"{basename}-list" for prefix, _, basename in self.documents})
        root = {prefix: names[prefix] for prefix in self.root_order}
        return self.APIRootView.as_view(api_root_dict=root)

    def get_urls(self) -> list[URLPattern]:
        documents = [
            re_path(rf"^{prefix}/$", view.as_view(), name=f"{basename}-list")
            for prefix, view, basename in self.documents
        ]
        return super().get_urls() + format_suffix_patterns(documents)


router = AtlasRouter()
router.register("nodes", NodeViewSet, basename="node")
router.register("edges", EdgeViewSet, basename="edge")
router.register_document("graph", GraphView, basename="graph")
router.register_document("path", PathView, basename="path")
router.register("lenses", LensViewSet, basename="lens")
router.register("papers", PaperViewSet, basename="paper")
router.register("recipes", RecipeViewSet, basename="recipe")
router.register("runs", RunViewSet, basename="run")
router.register("results", ResultViewSet, basename="result")
router.register_document("guide", GuideTreeView, basename="guide")
router.register_document("guide/answer", GuideWalkView, basename="guide-answer", listed=False)

urlpatterns = [path("results/score/", ScoreView.as_view(), name="results-score"), *router.urls]
