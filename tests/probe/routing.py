"""The site's websocket routes plus the probe socket."""

from django.urls import path

from atlas.routing import websocket_urlpatterns as site_routes
from tests.probe.consumers import ProbeConsumer

websocket_urlpatterns = [path("ws/probe/<str:token>/", ProbeConsumer.as_asgi()), *site_routes]
