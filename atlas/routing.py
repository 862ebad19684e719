"""Websocket routes of every app, in one list (settings.ATLAS_WEBSOCKET_ROUTES names it)."""

from django.urls import path

from atlas.runs.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/runs/<str:public_id>/", RunConsumer.as_asgi()),
]
