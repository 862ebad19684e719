"""Websocket routes of every app, in one list."""

from django.urls import path

from atlas.core.consumers import ProbeConsumer
from atlas.runs.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/probe/<str:token>/", ProbeConsumer.as_asgi()),
    path("ws/runs/<str:public_id>/", RunConsumer.as_asgi()),
]
