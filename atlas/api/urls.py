"""The one DRF router of the site: every resource registers its viewset here."""

from rest_framework.routers import DefaultRouter

from atlas.runs.views import RecipeViewSet, RunViewSet

router = DefaultRouter()
router.register("recipes", RecipeViewSet, basename="recipe")
router.register("runs", RunViewSet, basename="run")

urlpatterns = router.urls
