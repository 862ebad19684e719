"""The dev settings plus the probe: its task module for the worker, its socket for the web server."""

from atlas.settings.dev import *  # noqa: F403

CELERY_IMPORTS = ["tests.probe.tasks"]
ATLAS_WEBSOCKET_ROUTES = "tests.probe.routing.websocket_urlpatterns"
