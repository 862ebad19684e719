"""The one DRF router of the site: every resource registers its viewset here."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
