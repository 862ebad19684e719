"""The one DRF router of the site: every resource registers its viewset here."""

from rest_framework.routers import DefaultRouter

from atlas.api import views
from atlas.runs.views import RecipeViewSet, RunViewSet

router = DefaultRouter()
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

urlpatterns = router.urls
