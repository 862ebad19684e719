"""URL configuration: pages, /healthz, the one API router under /api/, schema and docs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from atlas.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/", include("atlas.api.urls")),
    path("guide/", include("atlas.guide.urls")),
    path("results/", include("atlas.results.urls")),
    path("", include("atlas.graph.urls")),
]

if settings.ATLAS_SERVE_MEDIA:
    # The laptop stack has no web tier in front: the site serves run artifacts itself (read-only
    # files under MEDIA_ROOT). In production the web tier serves /media/ from the artifacts volume
    # (docker/nginx.conf), or a storage backend (ATLAS_STORAGE_BACKEND) serves its own URLs.
    urlpatterns.append(re_path(r"^media/(?P<path>.+)$", serve, {"document_root": settings.MEDIA_ROOT}))
